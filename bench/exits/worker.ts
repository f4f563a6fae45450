/**
 * The "worker" rows of `bench/exits`: the OUT loop of `exits.bench.ts` with the vCPU in a worker
 * thread (`@typevisor/kvm/node`'s `startVcpuWorker`), so each userspace exit is a KVM_RUN round trip
 * between the VMM thread and the vCPU's thread. Prints nanoseconds per userspace exit for the
 * asynchronous `runIoctl()` (blocking up to `blockUs` first, and never) and the blocking `runSync()`.
 *
 * Figures of 2026-11-26 on a loaded 2-core machine (load average 6-8), ns per userspace exit, ept on:
 * a postMessage per KVM_RUN (before the doorbell) 161,000; the Atomics doorbell, 30,000-100,000 OUTs
 * per run: runIoctl() 39,000-67,000, runIoctl() with blockUs=0 35,000-71,000, runSync() 29,000-49,000
 * (under load average 12-16: 60,000-190,000 / 40,000-150,000). The floor there is two thread
 * wake-ups: a bare Atomics.wait/notify ping-pong between two threads measured 21,000 (Atomics.wait)
 * and 32,000 (Atomics.waitAsync), a bare postMessage ping-pong 59,000; a futex round trip costs
 * about 20 us of CPU time on this (virtual) machine. In-thread, the same OUT exit costs 2,700.
 */
import { KVM_EXIT_HLT, KVM_EXIT_IO } from '@typevisor/kvm';
import { startVcpuWorker } from '@typevisor/kvm/node';
import { outLoop, realModeGuest } from './guest.js';

type Mode = 'async' | 'async-noblock' | 'sync';

async function row(n: number, ept: boolean, mode: Mode): Promise<void> {
  const { host, vcpu, run } = realModeGuest(outLoop(n), ept);
  const w = await startVcpuWorker(host, vcpu);
  if (mode === 'async-noblock') w.blockUs = 0;
  try {
    let userExits = 0;
    const t0 = process.hrtime.bigint();
    for (;;) {
      const r = mode === 'sync' ? w.runSync() : await w.runIoctl();
      if (r !== 0) throw new Error(`KVM_RUN failed: ${r}`);
      const reason = run.get('exit_reason');
      if (reason === KVM_EXIT_HLT) break;
      if (reason !== KVM_EXIT_IO) throw new Error(`unexpected exit ${reason}`);
      userExits++;
    }
    const ns = Number(process.hrtime.bigint() - t0);
    console.log(
      `${`worker ${mode === 'sync' ? 'runSync()' : mode === 'async' ? 'runIoctl()' : 'runIoctl() blockUs=0'}`.padEnd(28)} ept=${ept ? 'on ' : 'off'}  ` +
        `${(ns / Math.max(userExits, 1)).toFixed(0).padStart(6)} ns/exit  (${userExits} userspace exits, a KVM_RUN round trip to the vCPU's thread each)`,
    );
  } finally {
    await w.terminate();
  }
}

/** The worker rows: `n` OUTs (each a userspace exit), ept on. */
export async function workerRows(n: number): Promise<void> {
  await row(n, true, 'async');
  await row(n, true, 'async-noblock');
  await row(n, true, 'sync');
}
