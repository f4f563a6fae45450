/**
 * Runs `typevisor` (apps/cli, from its TypeScript sources under Node with tsx, as `npm start` does) in
 * a child process and talks to the guest on its stdio, as a user at a terminal would.
 *
 * Guests run in their own process rather than in the test's: vitest's module transform turns every
 * call between modules into a property load on a module object, which makes the CPU's hot loop about
 * four times slower than under plain Node.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const defaultImages = join(root, 'tools/images/default-i386');

export interface CliGuest {
  readonly process: ChildProcessWithoutNullStreams;
  /** Everything the process wrote to stdout (the console) so far. */
  output(): string;
  /** Everything it wrote to stderr so far. */
  errors(): string;
  /** The first match of `pattern` in the output after offset `from`; rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number, from?: number): Promise<string>;
  /** Types on the console (stdin). */
  type(text: string): void;
  /** Types `command` at the shell and resolves with what it printed and its exit status. */
  run(command: string, timeoutMs?: number): Promise<{ readonly output: string; readonly status: number }>;
  /** The process's exit status (128 + signal number when killed). */
  readonly exited: Promise<number>;
  kill(): void;
}

const live = new Set<ChildProcessWithoutNullStreams>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Starts `typevisor <args>`; the default guest's kernel and initrd unless `args` name others. */
export function startCliGuest(args: readonly string[]): CliGuest {
  const main = join(root, 'apps/cli/src/main.ts');
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx/esm', main, ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    out += s;
  });
  child.stderr.on('data', (s: string) => {
    err += s;
  });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15));
    });
  });
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  const waitFor = (pattern: RegExp, timeoutMs: number, from = 0) =>
    new Promise<string>((resolve, reject) => {
      const t0 = Date.now();
      const poll = () => {
        const m = pattern.exec(out.slice(from));
        if (m) resolve(m[0]);
        else if (ended || Date.now() - t0 > timeoutMs)
          reject(
            new Error(
              `${ended ? 'the VM ended' : 'timed out'} waiting for ${pattern}; console tail:\n${out.slice(-1500)}\nstderr:\n${err.slice(-500)}`,
            ),
          );
        else setTimeout(poll, 100);
      };
      poll();
    });
  const type = (text: string) => {
    child.stdin.write(text);
  };
  let runs = 0;
  return {
    process: child,
    output: () => out,
    errors: () => err,
    waitFor,
    type,
    exited,
    kill: () => child.kill('SIGKILL'),
    run: async (command, timeoutMs = 120_000) => {
      const tag = `END${++runs}`;
      const from = out.length;
      // The marker is split in the command so that the echoed command line does not match it;
      // printf starts it on a line of its own even if the command's output did not end one.
      type(`${command}; printf '\\n${tag.slice(0, 2)}''${tag.slice(2)}:%s\\n' $?\r`);
      const done = new RegExp(`\\n${tag}:(\\d+)\\r\\n`);
      await waitFor(done, timeoutMs, from);
      const text = out.slice(from);
      const m = done.exec(text)!;
      return { output: text.slice(0, m.index), status: Number(m[1]) };
    },
  };
}

/** The default guest (tiny Linux + busybox) with `-m 128 -nographic -no-reboot` and `extra` options. */
export function startDefaultCliGuest(extra: readonly string[], append = 'console=ttyS0'): CliGuest {
  return startCliGuest([
    '-m',
    '128',
    '-nographic',
    '-no-reboot',
    '-kernel',
    join(defaultImages, 'bzImage'),
    '-initrd',
    join(defaultImages, 'initrd.cpio.gz'),
    '-append',
    append,
    ...extra,
  ]);
}

/** The process's exit status, or -1 when it has not exited within `ms` (a hung guest fails, it does not hang the test). */
export function exitWithin(g: CliGuest, ms: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<number>((resolve) => {
    timer = setTimeout(() => resolve(-1), ms);
  });
  return Promise.race([g.exited, late]).finally(() => clearTimeout(timer));
}

/**
 * Runs HMP `commands` on the monitor listening at unix socket `path` (`-monitor unix:<path>,server,nowait`)
 * and returns what it printed: the state of a guest that stopped making progress, for a failure message.
 */
export function monitorDump(path: string, commands: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const sock = createConnection(path);
    sock.setEncoding('utf8');
    sock.on('data', (s: string) => {
      text += s;
    });
    sock.on('error', (e) => resolve(`${text}\n(monitor: ${e.message})`));
    sock.on('connect', () => {
      let i = 0;
      const next = () => {
        if (i === commands.length) {
          sock.end();
          resolve(text);
          return;
        }
        sock.write(`${commands[i++]}\n`);
        setTimeout(next, 1000);
      };
      setTimeout(next, 500);
    });
  });
}
