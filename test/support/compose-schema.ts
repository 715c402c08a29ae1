import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The compose specification's JSON schema as Docker Compose itself validates with: compose-go is the library
 * `docker compose` loads files through, and its `schema/compose-spec.json` is the copy it embeds. Fetched as a Go
 * module (the go command checks it against the Go checksum database), pinned, so a new spec release changes the test
 * only when this line does.
 */
export const COMPOSE_GO_MODULE = 'github.com/compose-spec/compose-go/v2';
export const COMPOSE_GO_VERSION = 'v2.16.2';

const cacheDir = path.join(
  process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
  'payment-orchestrator',
  'compose-spec',
);

interface ModuleDownload {
  Dir?: string;
  Error?: string;
}

/** The schema, from our cache or, the first time on a machine, from the Go module proxy into it. */
export function composeSpecSchema(): Record<string, unknown> {
  const cached = path.join(cacheDir, `compose-go-${COMPOSE_GO_VERSION}.json`);
  if (!existsSync(cached)) {
    const source = path.join(downloadModule(), 'schema', 'compose-spec.json');
    mkdirSync(cacheDir, { recursive: true });
    // Two jest workers may fetch at once: each writes its own file and the rename makes one of them the copy.
    const partial = `${cached}.${process.pid}.tmp`;
    copyFileSync(source, partial);
    renameSync(partial, cached);
  }
  return JSON.parse(readFileSync(cached, 'utf8')) as Record<string, unknown>;
}

function downloadModule(): string {
  const module = `${COMPOSE_GO_MODULE}@${COMPOSE_GO_VERSION}`;
  // Outside any Go module, so no go.mod of ours decides what is fetched.
  const result = spawnSync('go', ['mod', 'download', '-json', module], {
    cwd: os.tmpdir(),
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (result.error) {
    throw new Error(
      `The compose schema comes from the Go module ${module}, and running go failed (${result.error.message}). ` +
        'Install Go (the project builds the Temporal CLI with it too), or put the schema at ' +
        `${path.join(cacheDir, `compose-go-${COMPOSE_GO_VERSION}.json`)}.`,
    );
  }
  // go prints the JSON answer on failure too, with its reason in Error.
  let answer: ModuleDownload = {};
  try {
    answer = JSON.parse(result.stdout) as ModuleDownload;
  } catch {
    // Nothing parseable: the exit status and stderr below say why.
  }
  if (result.status !== 0 || !answer.Dir) {
    throw new Error(`go mod download ${module} failed: ${answer.Error ?? result.stderr.trim()}`);
  }
  return answer.Dir;
}
