/**
 * The Chromium that the Temporal UI check drives, found here once so that `npm ci && npm test` passes on a machine
 * with only Node and npm: Debian's `chromium` when the machine has one (CI installs it), otherwise the headless
 * Chromium that the @sparticuz/chromium devDependency carries inside its npm tarball, with the NSS libraries it links
 * and a font. Nothing is downloaded: the project's machines reach package registries and nothing else. With neither
 * browser the launch throws, so the check fails instead of skipping.
 */
import { execFile } from 'node:child_process';
import { constants, createReadStream, createWriteStream, statSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import { chromium, type BrowserContext } from 'playwright-core';

export interface ChromiumBinary {
  executablePath: string;
  /** Variables the browser process needs on top of ours (the packaged build's libraries and fonts). */
  env: Record<string, string>;
  /** Said in failure messages, so a red check tells which browser it ran. */
  description: string;
}

export interface LaunchedBrowser {
  context: BrowserContext;
  binary: ChromiumBinary;
  close(): Promise<void>;
}

const PACKAGE = '@sparticuz/chromium';

/** Debian's wrapper script, on PATH or at its usual place; a device node (a masked binary) does not count. */
function debianChromium(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const candidate of [...dirs.map((dir) => path.join(dir, 'chromium')), '/usr/bin/chromium']) {
    try {
      const stat = statSync(candidate);
      if (stat.isFile() && (stat.mode & 0o111) !== 0) return candidate;
    } catch {
      // Not there: try the next place.
    }
  }
  return undefined;
}

async function isFile(file: string, mode = constants.F_OK): Promise<boolean> {
  return access(file, mode).then(
    () => true,
    () => false,
  );
}

async function unbrotli(source: string, target: string, mode?: number): Promise<void> {
  await pipeline(createReadStream(source), createBrotliDecompress(), createWriteStream(target, { mode }));
}

/**
 * The archives are brotli-compressed tarballs: Node unpacks brotli and every Debian has tar. tar gets a file, not a
 * pipe, because it stops reading at the end-of-archive marker and the pipe would break on the padding after it.
 */
async function untarBrotli(source: string, targetDir: string): Promise<void> {
  const tarball = path.join(targetDir, `${path.basename(source, '.br')}`);
  await unbrotli(source, tarball);
  try {
    await new Promise<void>((resolve, reject) => {
      execFile('tar', ['--no-same-owner', '-xf', tarball, '-C', targetDir], (error, _stdout, stderr) =>
        error ? reject(new Error(`tar -xf ${tarball}: ${stderr.trim() || error.message}`)) : resolve(),
      );
    });
  } finally {
    await rm(tarball, { force: true });
  }
}

async function packagedChromium(): Promise<ChromiumBinary> {
  let entry: string;
  try {
    entry = require.resolve(PACKAGE);
  } catch {
    throw new Error(
      `No browser for the Temporal UI check: no \`chromium\` on PATH or at /usr/bin/chromium, and ${PACKAGE} ` +
        'is not installed (run npm ci, or apt-get install -y chromium). This check never skips.',
    );
  }
  // The package exports only its entry point (build/cjs/index.cjs); the compressed files sit in bin/ beside build/.
  const root = path.resolve(path.dirname(entry), '..', '..');
  const manifest: unknown = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  const version =
    manifest && typeof manifest === 'object' && 'version' in manifest ? String(manifest.version) : undefined;
  const bin = path.join(root, 'bin');
  if (!version || !(await isFile(path.join(bin, 'chromium.br')))) {
    throw new Error(`${PACKAGE} in ${root} has no version or no bin/chromium.br: its layout changed.`);
  }
  const cacheRoot = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'payment-orchestrator');
  const dir = path.join(cacheRoot, `chromium-${version}`);
  const executablePath = path.join(dir, 'chromium');

  if (!(await isFile(executablePath, constants.X_OK))) {
    // Unpacked beside the final place and renamed into it, so a run killed halfway, or jest workers unpacking at
    // the same time, never leave a half-written browser that a later run would take as ready.
    await mkdir(cacheRoot, { recursive: true });
    const staging = await mkdtemp(path.join(cacheRoot, `.chromium-${version}-`));
    try {
      await unbrotli(path.join(bin, 'chromium.br'), path.join(staging, 'chromium'), 0o755);
      // libnss3, libnspr4 and libexpat: Chromium links them and a bare Debian lacks them.
      await untarBrotli(path.join(bin, 'al2023.tar.br'), staging);
      await untarBrotli(path.join(bin, 'fonts.tar.br'), staging);
      // The package's own fonts.conf names its serverless paths; this one names where the fonts are here.
      await writeFile(
        path.join(staging, 'fonts.conf'),
        `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
          `  <dir>${path.join(dir, 'fonts')}</dir>\n  <cachedir>${path.join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
      );
      await rename(staging, dir).catch(async (error: unknown) => {
        // Another worker got there first: its copy is complete, since it was renamed whole.
        if (!(await isFile(executablePath, constants.X_OK))) throw error;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  const libs = path.join(dir, 'lib');
  const inherited = process.env.LD_LIBRARY_PATH;
  return {
    executablePath,
    env: { LD_LIBRARY_PATH: inherited ? `${libs}:${inherited}` : libs, FONTCONFIG_PATH: dir },
    description: `${PACKAGE} ${version} (unpacked in ${dir})`,
  };
}

export async function findChromium(): Promise<ChromiumBinary> {
  const debian = debianChromium();
  if (debian) return { executablePath: debian, env: {}, description: `Debian's chromium (${debian})` };
  return packagedChromium();
}

/** A headless browser on a profile of its own, removed again by close(). `extraArgs` are more Chromium switches. */
export async function launchChromium(
  viewport: { width: number; height: number },
  extraArgs: readonly string[] = [],
): Promise<LaunchedBrowser> {
  const binary = await findChromium();
  const profile = await mkdtemp(path.join(os.tmpdir(), 'chromium-profile-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: binary.executablePath,
      headless: true,
      env: { ...process.env, ...binary.env },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
        // Containers often give /dev/shm only 64 MiB, too little for a page of the UI.
        '--disable-dev-shm-usage',
        ...extraArgs,
      ],
      viewport,
    });
    return {
      context,
      binary,
      async close() {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw new Error(`${binary.description} did not start: ${error instanceof Error ? error.message : String(error)}`);
  }
}
