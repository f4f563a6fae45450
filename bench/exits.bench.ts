/**
 * What a VM exit costs in `@typevisor/kvm`: a real-mode guest loop doing 1,000,000 OUTs to a port
 * that userspace handles (KVM_EXIT_IO, a return from KVM_RUN per OUT), and one doing 1,000,000
 * CPUIDs (handled in the kernel: the VM exit never leaves KVM_RUN), each with `ept` on and off.
 * Prints nanoseconds per exit.
 *
 *   node_modules/.bin/tsx --conditions=source bench/exits.bench.ts [iterations]
 *
 * Figures of 2026-11-26 on a loaded 2-core machine, 300,000 iterations, ns per exit (OUT ept=on / CPUID
 * ept=on / OUT ept=off / CPUID ept=off): 4180 / 3554 / 3985 / 3971 while an intercepted instruction
 * unwound with a throw (`raiseIntercept`: 18.8% of the profile's self time), 1240 / 1480 / 1301 / 1178
 * since the common exits return from their handler (`interceptInstruction`). What is left is spread over
 * the exit path: vcpu_enter_guest 9.5%, the CPUID handler 7.4%, recording the VM exit 6.8%, the two
 * `performance.now()` per entry 5.7%. Then (no allocation per exit in CPUID, the exit information
 * written into the VMCS only when read, guest time sampled on short runs), 200,000 iterations, load
 * average about 3: 1218 / 798 / 964 / 450; 2,000,000 OUTs ept=on alone 1046. The profile is now flat:
 * enterGuest 4.5%, guestRun 3.6%, leave 3.4%, runIoctl 3.3%, decodeIo 3.0%, handleIo 2.8%.
 */
import { KVM_EXIT_HLT, KVM_EXIT_IO, KVM_RUN } from '@typevisor/kvm';
import { le32, outLoop, realModeGuest } from './exits/guest.js';
import { workerRows } from './exits/worker.js';

const N = Number(process.argv[2] ?? 1_000_000);

const OUT_LOOP = outLoop(N);
// mov esi,N; l: xor eax,eax; cpuid; dec esi; jnz l; hlt
const CPUID_LOOP = [0x66, 0xbe, ...le32(N), 0x66, 0x31, 0xc0, 0x0f, 0xa2, 0x66, 0x4e, 0x75, 0xf7, 0xf4];

function bench(name: string, code: number[], ept: boolean): void {
  const { host, vcpu, run } = realModeGuest(code, ept);
  let userExits = 0;
  const t0 = process.hrtime.bigint();
  for (;;) {
    if (host.ioctl(vcpu, KVM_RUN, 0) !== 0) throw new Error('KVM_RUN failed');
    const reason = run.get('exit_reason');
    if (reason === KVM_EXIT_HLT) break;
    if (reason !== KVM_EXIT_IO) throw new Error(`unexpected exit ${reason}`);
    userExits++;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const stats = host.vcpuRunner(vcpu)!.stats;
  const exits = stats.totalExits;
  console.log(
    `${name.padEnd(6)} ept=${ept ? 'on ' : 'off'}  ${(ns / N).toFixed(0).padStart(6)} ns/iteration` +
      `  (${exits} VM exits, ${userExits} to userspace, ${stats.kernelExits} in the kernel, guest time ${(((stats.guestMs * 1e6) / ns) * 100).toFixed(0)}%)`,
  );
}

console.log(`${N} iterations per loop`);
for (const ept of [true, false]) {
  bench('OUT', OUT_LOOP, ept);
  bench('CPUID', CPUID_LOOP, ept);
}
// The vCPU in a worker thread: each userspace exit is a KVM_RUN round trip between two threads.
const WORKER_N = Number(process.argv[3] ?? Math.min(N, 100_000));
console.log(`${WORKER_N} OUTs with the vCPU in a worker thread`);
await workerRows(WORKER_N);
