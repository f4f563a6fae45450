import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvmHost } from '@typevisor/kvm';
import { ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './options/parse.js';
import { VirtualMachine, type VmHost, VmStartError } from './vm.js';

const images = join(dirname(fileURLToPath(import.meta.url)), '../../../tools/images/default-i386');

function host() {
  let out = '';
  const queue: (() => void)[] = [];
  const status: number[] = [];
  const h: VmHost = {
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
    exit: (s) => status.push(s),
    clock: new ManualClock(),
    threadId: 1,
    defer: (fn) => queue.push(fn),
    setTimer: (fn) => queue.push(fn),
    kvmHost: new KvmHost(),
  };
  const drain = (max = 100) => {
    for (let i = 0; i < max && queue.length > 0; i++) queue.shift()!();
  };
  return { h, out: () => out, status, drain };
}

function config(args: string[]) {
  const cmd = parseCommandLine(args);
  if (cmd.action !== 'run') throw new Error('not a run');
  return cmd.config;
}

const kernelArgs = [
  '-m',
  '32',
  '-kernel',
  join(images, 'bzImage'),
  '-initrd',
  join(images, 'initrd.cpio.gz'),
  '-append',
  'console=ttyS0',
];

describe('VirtualMachine', () => {
  it('starts paused with -S and answers the monitor through C-a c', () => {
    const t = host();
    const vm = new VirtualMachine(config([...kernelArgs, '-S', '-nographic']), t.h);
    vm.start();
    t.drain();
    vm.input([...'\x01cinfo status\r'].map((c) => c.charCodeAt(0)));
    expect(t.out()).toContain('VM status: paused (prelaunch)');
    expect(t.status).toEqual([]);
  });

  it('quits on C-a x', () => {
    const t = host();
    const vm = new VirtualMachine(config([...kernelArgs, '-S']), t.h);
    vm.start();
    vm.input([1, 'x'.charCodeAt(0)]);
    expect(t.status).toEqual([0]);
  });

  it('refuses a machine without a kernel, naming what is missing', () => {
    expect(() => new VirtualMachine(config(['-m', '32']), host().h)).toThrow('no -kernel given');
  });

  it('names an unreadable kernel file', () => {
    expect(() => new VirtualMachine(config(['-kernel', '/nonexistent']), host().h)).toThrow(
      '/nonexistent: No such file',
    );
  });

  it('names a file that is not a kernel', () => {
    expect(() => new VirtualMachine(config(['-kernel', join(images, 'initrd.cpio.gz')]), host().h)).toThrow(
      /-kernel .*initrd.cpio.gz: not a Linux bzImage/,
    );
  });
});
