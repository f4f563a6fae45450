/**
 * Boots the default guest through the whole stack (the `pc` machine of @typevisor/qemu, the KVM
 * facade, VT-x non-root execution, the CPU) in this process, types on its serial console and waits
 * for answers, as a user at `npm start` would.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, VirtualMachine, VmStartError } from '@typevisor/qemu';

const images = join(dirname(fileURLToPath(import.meta.url)), '../../tools/images/default-i386');

export interface GuestSession {
  readonly vm: VirtualMachine;
  /** Everything the console printed so far. */
  output(): string;
  /** Resolves when the console output matches, or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  type(text: string): void;
  /** Resolves with the exit status when the VM ends. */
  readonly exited: Promise<number>;
}

export function startDefaultGuest(extraArgs: string[], append = 'console=ttyS0'): GuestSession {
  const cmd = parseCommandLine([
    '-m',
    '128',
    '-nographic',
    '-no-reboot',
    '-kernel',
    join(images, 'bzImage'),
    '-initrd',
    join(images, 'initrd.cpio.gz'),
    '-append',
    append,
    ...extraArgs,
  ]);
  if (cmd.action !== 'run') throw new Error('not a run');
  let out = '';
  let resolveExit: (status: number) => void = () => {};
  const exited = new Promise<number>((r) => {
    resolveExit = r;
  });
  const vm = new VirtualMachine(cmd.config, {
    readFile: (p) => {
      try {
        return new Uint8Array(readFileSync(p));
      } catch {
        throw new VmStartError(`${p}: No such file or directory`);
      }
    },
    write: (d) => {
      out += typeof d === 'string' ? d : new TextDecoder().decode(d);
    },
    exit: (s) => resolveExit(s),
    clock: { nowNs: () => Math.round(performance.now() * 1e6) },
    threadId: process.pid,
    defer: (fn) => setImmediate(fn),
    setTimer: (fn, ms) => setTimeout(fn, ms),
  });
  vm.start();
  return {
    vm,
    output: () => out,
    exited,
    type: (text) => vm.input(new TextEncoder().encode(text)),
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        const poll = () => {
          const m = pattern.exec(out);
          if (m) resolve(m[0]);
          else if (Date.now() - t0 > timeoutMs)
            reject(new Error(`timed out waiting for ${pattern}; console tail:\n${out.slice(-800)}`));
          else setTimeout(poll, 200);
        };
        poll();
      }),
  };
}
