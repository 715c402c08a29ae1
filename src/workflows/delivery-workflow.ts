// The delivery workflow: see issue 13.
export {};
