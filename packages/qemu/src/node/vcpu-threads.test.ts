import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvmHost } from '@typevisor/kvm';
import { describe, expect, it } from 'vitest';
import type { StartVcpuThread, VcpuThread } from '../machine/vcpu-thread.js';
import { parseCommandLine } from '../options/parse.js';
import { VirtualMachine, type VmHost, VmStartError } from '../vm.js';
import { nodeVcpuThreads } from './vcpu-threads.js';

const images = join(dirname(fileURLToPath(import.meta.url)), '../../../../tools/images/default-i386');

function config(args: string[]) {
  const cmd = parseCommandLine(args);
  if (cmd.action !== 'run') throw new Error('not a run');
  return cmd.config;
}

const kernelArgs = [
  '-m',
  '32',
  '-nographic',
  '-kernel',
  join(images, 'bzImage'),
  '-initrd',
  join(images, 'initrd.cpio.gz'),
  '-append',
  'console=ttyS0',
];

/** A host on Node's real event loop, with `startVcpuThread` given (or not). */
function nodeHost(startVcpuThread?: StartVcpuThread) {
  let out = '';
  const status: number[] = [];
  const h: VmHost = {
    readFile: (p) => new Uint8Array(readFileSync(p)),
    write: (d) => {
      out += typeof d === 'string' ? d : new TextDecoder().decode(d);
    },
    exit: (s) => status.push(s),
    clock: { nowNs: () => Math.round(performance.now() * 1e6) },
    threadId: 1,
    defer: (fn) => setImmediate(fn),
    setTimer: (fn, ms) => setTimeout(fn, ms),
    kvmHost: new KvmHost({ sliceInstructions: 200_000 }),
    ...(startVcpuThread ? { startVcpuThread } : {}),
  };
  return { h, out: () => out, status };
}

/** Wraps the Node vCPU threads, counting runs and terminations. */
function countingThreads() {
  const counts = { started: 0, runs: 0, terminated: 0 };
  const start: StartVcpuThread = async (host, fd) => {
    const t = await nodeVcpuThreads()(host, fd);
    counts.started++;
    const wrapped: VcpuThread = {
      runSync: () => {
        counts.runs++;
        return t.runSync();
      },
      terminate: () => {
        counts.terminated++;
        return t.terminate();
      },
    };
    return wrapped;
  };
  return { start, counts };
}

async function waitFor(what: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('vCPU threads in the VMM', () => {
  for (const irqchip of ['off', 'on']) {
    it(`runs the guest's KVM_RUN on a worker thread with vcpu-thread=on (kernel_irqchip=${irqchip}) and stops it with the VM`, async () => {
      const threads = countingThreads();
      const t = nodeHost(threads.start);
      const vm = new VirtualMachine(
        config([...kernelArgs, '-machine', `kernel_irqchip=${irqchip}`, '-accel', 'kvm,vcpu-thread=on']),
        t.h,
      );
      await vm.ready;
      expect(threads.counts.started).toBe(1);
      vm.start();
      // The kernel decompresses itself and prints its banner on COM1: guest code ran in the worker.
      await waitFor(() => t.out().includes('Linux version'), 120_000);
      expect(threads.counts.runs).toBeGreaterThan(0);
      // The worker's runner counts into the vCPU's shared statistics: `info exits` shows them here.
      const exits = vm.monitor.execute('info exits');
      const instructions = Number(/guest instructions: (\d+)/.exec(exits)?.[1]);
      expect(instructions).toBeGreaterThan(1_000_000);
      vm.end(0);
      expect(threads.counts.terminated).toBe(1);
      expect(t.status).toEqual([0]);
    }, 150_000);
  }

  for (const accel of [['-accel', 'kvm,vcpu-thread=off'], []]) {
    it(`keeps the vCPU in the VMM thread with ${accel.length > 0 ? 'vcpu-thread=off' : 'one vCPU by default'}`, async () => {
      const threads = countingThreads();
      const t = nodeHost(threads.start);
      const vm = new VirtualMachine(config([...kernelArgs, ...accel]), t.h);
      await vm.ready;
      expect(threads.counts.started).toBe(0);
      vm.start();
      await waitFor(() => t.out().includes('Linux version'), 120_000);
      vm.end(0);
    }, 150_000);
  }

  it('refuses vcpu-thread=on on a host without threads, naming the option', () => {
    expect(
      () => new VirtualMachine(config([...kernelArgs, '-accel', 'kvm,vcpu-thread=on']), nodeHost().h),
    ).toThrow(VmStartError);
    expect(
      () => new VirtualMachine(config([...kernelArgs, '-accel', 'kvm,vcpu-thread=on']), nodeHost().h),
    ).toThrow(/vcpu-thread=on: this host cannot run vCPUs on threads/);
  });
});
