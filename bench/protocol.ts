// Messages between the benchmark driver and its worker process.

export interface BundleReport {
  bytes: number;
  /** Heavy modules found in the workflow bundle; each cached workflow would instantiate them. */
  heavyModules: string[];
}

export interface MemoryReport {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
  /** V8 native contexts alive in the worker's main isolate: the workflow sandbox's contexts among them. */
  contextsHeld: number;
}

export type WorkerMessage =
  | {
      type: 'ready';
      pid: number;
      invoiceBundle: BundleReport;
      baselineBundle: BundleReport;
      /** What the SDK made of the tuning (its defaults filled in), read from the baseline worker built with it. */
      effectiveTuning: { maxCachedWorkflows: number; workflowPollers: unknown; activityPollers: unknown };
    }
  | { type: 'memory'; memory: MemoryReport };

export type ParentMessage = { type: 'stop' } | { type: 'memory' };

/** From the sandboxes' and the gateway's processes to the driver; the driver's only message back is "stop". */
export type ServiceMessage = { type: 'ready'; pid: number; url: string };
