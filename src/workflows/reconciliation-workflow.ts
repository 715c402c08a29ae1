// The reconciliation workflow: see issue 13.
export {};
