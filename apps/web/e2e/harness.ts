/**
 * The end-to-end harness for the web app: build it with Vite, serve the build with `vite preview`
 * (the cross-origin-isolation headers come from vite.config.ts), and drive Debian's Chromium with
 * playwright-core. tests/web/web.e2e.test.ts uses it; it lives here because its dependencies
 * (vite, playwright-core) are this app's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export type { BrowserContext, Page };

export const APP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM = '/usr/bin/chromium';
const VITE = join(APP_DIR, 'node_modules', 'vite', 'bin', 'vite.js');

/** The environment for Vite: this process's, without the test runner's NODE_ENV=test. */
function viteEnv(): NodeJS.ProcessEnv {
  const { NODE_ENV: _, ...env } = process.env;
  return { ...env, NO_COLOR: '1' };
}

/** Runs the Vite CLI in the app's folder; resolves with its output, rejects with it on failure. */
function vite(args: string[], env: Readonly<Record<string, string>>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VITE, ...args], {
      cwd: APP_DIR,
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`vite ${args.join(' ')} exited with ${code}:\n${out}`)),
    );
  });
}

/** A free TCP port on localhost. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface ServedApp {
  readonly url: string;
  /** Response headers of the page, as served. */
  readonly headers: Headers;
  close(): Promise<void>;
}

/**
 * `vite build` into a fresh folder, then `vite preview` of it on a free localhost port. `env` is added
 * to Vite's environment (vite.config.ts reads TYPEVISOR_SEABIOS).
 */
export async function buildAndServe(env: Readonly<Record<string, string>> = {}): Promise<ServedApp> {
  const outDir = mkdtempSync(join(tmpdir(), 'typevisor-web-'));
  try {
    await vite(['build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], env);
  } catch (e) {
    rmSync(outDir, { recursive: true, force: true });
    throw e;
  }
  return serve(['preview', '--outDir', outDir], env, () => rmSync(outDir, { recursive: true, force: true }));
}

/**
 * The Vite dev server (`vite`) on a free localhost port, with `env` added to its environment and a
 * dependency cache of its own (tests that run at the same time each start one).
 */
export function serveDev(env: Readonly<Record<string, string>> = {}): Promise<ServedApp> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'typevisor-vite-cache-'));
  return serve([], { TYPEVISOR_VITE_CACHE_DIR: cacheDir, ...env }, () =>
    rmSync(cacheDir, { recursive: true, force: true }),
  );
}

async function serve(
  args: string[],
  env: Readonly<Record<string, string>>,
  cleanUp: () => void,
): Promise<ServedApp> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const child: ChildProcess = spawn(
    process.execPath,
    [VITE, ...args, '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    { cwd: APP_DIR, stdio: 'ignore', env: { ...viteEnv(), ...env } },
  );
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    cleanUp();
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return { url, headers: res.headers, close };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      await close();
      throw new Error(`vite ${args[0] ?? 'dev'} did not answer on ${url}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Debian's Chromium, headless, with a fresh profile (playwright passes it as --user-data-dir). */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'typevisor-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1000, height: 960 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The text on screen in one of the page's consoles (`serial0`, `compat_monitor0`), one line per row. */
export function consoleText(page: Page, name: 'serial0' | 'compat_monitor0'): Promise<string> {
  return page.evaluate((id) => {
    const rows = document.querySelectorAll(`#${id} .xterm-rows > div`);
    return Array.from(rows, (r) => (r.textContent ?? '').replaceAll('\u00a0', ' ').trimEnd()).join('\n');
  }, name);
}

/** Waits until `predicate` holds for a console's text; throws with the text (and `why`) on timeout. */
export async function waitForConsole(
  page: Page,
  name: 'serial0' | 'compat_monitor0',
  predicate: (text: string) => boolean,
  timeoutMs: number,
  giveUp?: () => Promise<string | undefined>,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await consoleText(page, name);
    if (predicate(text)) return text;
    const reason = await giveUp?.();
    if (reason !== undefined) throw new Error(`${reason}; ${name} shows:\n${text}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms; ${name} shows:\n${text}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Screenshots the VGA canvas to `path` and counts its bright pixels, decoding the PNG in the page
 * (the canvas itself belongs to the worker, so the page cannot read it back).
 */
export async function litPixels(
  page: Page,
  path: string,
): Promise<{ width: number; height: number; lit: number }> {
  const png = await page.locator('#vga').screenshot({ path });
  return page.evaluate(async (b64) => {
    const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${b64}`)).blob());
    const c = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = c.getContext('2d')!;
    ctx.drawImage(bitmap, 0, 0);
    const d = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i]! + d[i + 1]! + d[i + 2]! > 300) lit++;
    return { width: bitmap.width, height: bitmap.height, lit };
  }, png.toString('base64'));
}
