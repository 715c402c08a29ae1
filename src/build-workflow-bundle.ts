import { PREBUILT_WORKFLOW_BUNDLE, prebuiltWorkflowBundle, writeWorkflowBundle } from './temporal/worker';

/**
 * `npm run build:bundle`, after `npm run build`: bundles the compiled workflow code once, at image build, so a worker
 * starts without running webpack. An argument names another target file.
 */
async function run(): Promise<void> {
  const target = process.argv[2] ?? PREBUILT_WORKFLOW_BUNDLE;
  // From source there is no default: a bundle in src/ would be one no worker reads.
  if (!target) throw new Error('run the compiled script (node dist/build-workflow-bundle.js) or name a target file');
  const { bytes } = await writeWorkflowBundle(target);
  process.stdout.write(`workflow bundle written: ${target} (${Math.round(bytes / 1024)} KiB)\n`);
  // The flavour with the OpenTelemetry interceptors, for workers started with tracing on (OTEL_EXPORTER_OTLP_*).
  const traced =
    target === PREBUILT_WORKFLOW_BUNDLE ? prebuiltWorkflowBundle(true) : target.replace(/\.js$/, '-tracing.js');
  if (traced) {
    const written = await writeWorkflowBundle(traced, { tracing: true });
    process.stdout.write(`workflow bundle written: ${traced} (${Math.round(written.bytes / 1024)} KiB)\n`);
  }
}

run().catch((error: unknown) => {
  process.stderr.write(`bundling the workflows failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
