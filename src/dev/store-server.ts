// The embedded store in a process of its own (see startStoreProcess in ./store.ts): PGlite runs each statement on this
// process's thread. It prints `{"url": …}` once it listens, and stops when its stdin closes or on SIGTERM.
import { startEmbeddedStore } from '../store/embedded';

async function run(): Promise<void> {
  const dataDir = process.env.STORE_DATA_DIR;
  if (!dataDir) throw new Error('STORE_DATA_DIR is required');
  const embedded = await startEmbeddedStore({
    dataDir,
    template: process.env.STORE_TEMPLATE || undefined,
    port: Number(process.env.STORE_PORT ?? 0),
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    embedded.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ url: embedded.url })}\n`);
}

run().catch((error: unknown) => {
  process.stderr.write(
    `store server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
