import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__TEMPORAL_SERVER__?.stop();
  // The markers of this run's build (test/support/build.ts), if a test asked for one.
  const base = path.join(os.tmpdir(), `payorch-build-${process.env.TEST_RUN_ID}`);
  for (const suffix of ['.lock', '.done', '.failed']) rmSync(`${base}${suffix}`, { recursive: true, force: true });
  if (process.env.TEST_STORE_TEMPLATE) rmSync(process.env.TEST_STORE_TEMPLATE, { recursive: true, force: true });
}
