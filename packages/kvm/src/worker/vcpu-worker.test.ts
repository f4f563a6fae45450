import { GuestMemory } from '@typevisor/memory';
import { afterEach, describe, expect, it } from 'vitest';
import { KvmHost } from '../kernel/host.js';
import { spawnVcpuWorker, startVcpuWorker } from '../node/index.js';
import * as C from '../uapi/constants.js';
import { EBUSY, EINTR } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { StructView, allocStruct } from '../uapi/layout.js';
import {
  kvm_dirty_log,
  kvm_interrupt,
  kvm_regs,
  kvm_run,
  kvm_segment,
  kvm_sregs,
  kvm_userspace_memory_region,
} from '../uapi/structs.js';
import { Kvm } from '../kvm.js';
import { CONTROL_CELLS, type FromVcpuThread, type VmImage } from './protocol.js';
import { VcpuWorker } from './vcpu-worker.js';

/** A VM with no memslots yet. */
const EMPTY_VM: VmImage = {
  generation: 0,
  slots: [],
  tssAddr: null,
  userSpaceMsr: 0,
  kvmclockOffset: 0n,
  clockGeneration: 0,
};

/** LWN "Using the KVM API": mov dx,0x3f8; add al,bl; add al,'0'; out dx,al; mov al,'\n'; out dx,al; hlt. */
const LWN = [0xba, 0xf8, 0x03, 0x00, 0xd8, 0x04, 0x30, 0xee, 0xb0, 0x0a, 0xee, 0xf4];
const JMP_SELF = [0xeb, 0xfe];

const workers: VcpuWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

async function inWorker(host: KvmHost, vcpufd: number): Promise<VcpuWorker> {
  const w = await startVcpuWorker(host, vcpufd);
  workers.push(w);
  return w;
}

/** A VM with `ramSize` bytes of RAM at guest-physical 0 in slot 0 (optionally dirty-logged). */
function vmWithRam(ramSize: number, flags = 0) {
  const host = new KvmHost();
  const kvm = host.open('/dev/kvm');
  const vmfd = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
  const ram = host.mmap(ramSize);
  addSlot(host, vmfd, 0, 0, ram.addr, ramSize, flags);
  return { host, kvm, vmfd, ram: ram.bytes };
}

function addSlot(
  host: KvmHost,
  vmfd: number,
  slot: number,
  gpa: number,
  addr: number,
  size: number,
  flags = 0,
) {
  const region = allocStruct(kvm_userspace_memory_region);
  region.set('slot', slot);
  region.set('flags', flags);
  region.set('guest_phys_addr', gpa);
  region.set('memory_size', size);
  region.set('userspace_addr', addr);
  expect(host.ioctl(vmfd, I.KVM_SET_USER_MEMORY_REGION, region.bytes)).toBe(0);
}

/** A real-mode vCPU with CS = 0 at `rip`, like the LWN example sets it up. */
function realModeVcpu(
  host: KvmHost,
  vmfd: number,
  id: number,
  rip: number,
  regs: { rax?: number; rbx?: number } = {},
) {
  const vcpufd = host.ioctl(vmfd, I.KVM_CREATE_VCPU, id);
  expect(vcpufd).toBeGreaterThan(0);
  const sregs = allocStruct(kvm_sregs);
  expect(host.ioctl(vcpufd, I.KVM_GET_SREGS, sregs.bytes)).toBe(0);
  sregs.sub('cs', kvm_segment).set('base', 0);
  sregs.sub('cs', kvm_segment).set('selector', 0);
  expect(host.ioctl(vcpufd, I.KVM_SET_SREGS, sregs.bytes)).toBe(0);
  const r = allocStruct(kvm_regs);
  r.set('rip', rip);
  r.set('rax', regs.rax ?? 0);
  r.set('rbx', regs.rbx ?? 0);
  r.set('rsp', 0xff0);
  r.set('rflags', 0x2);
  expect(host.ioctl(vcpufd, I.KVM_SET_REGS, r.bytes)).toBe(0);
  const map = host.mmap(3 * 4096, vcpufd).bytes;
  return { vcpufd, map, run: new StructView(kvm_run, map) };
}

function rip(host: KvmHost, vcpufd: number): number {
  const r = allocStruct(kvm_regs);
  expect(host.ioctl(vcpufd, I.KVM_GET_REGS, r.bytes)).toBe(0);
  return r.get('rip');
}

/** Runs the LWN guest to its HLT with `run`, returning the exits and what it wrote to 0x3f8. */
async function lwnExits(run: () => number | Promise<number>, map: Uint8Array) {
  const v = new StructView(kvm_run, map);
  const exits: number[] = [];
  let out = '';
  for (let i = 0; i < 5; i++) {
    expect(await run()).toBe(0);
    const reason = v.get('exit_reason');
    exits.push(reason);
    if (reason === C.KVM_EXIT_HLT) break;
    expect([v.get('io.direction'), v.get('io.size'), v.get('io.port'), v.get('io.count')]).toEqual([
      C.KVM_EXIT_IO_OUT,
      1,
      0x3f8,
      1,
    ]);
    out += String.fromCharCode(map[v.get('io.data_offset')]!);
  }
  return { exits, out };
}

describe('a vCPU in a worker thread', () => {
  it('runs code the VMM thread replaced through the mapping write log (DMA over code)', async () => {
    const host = new KvmHost();
    const kvm = host.open('/dev/kvm');
    const vmfd = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    const mapping = host.mmap(0x2000);
    addSlot(host, vmfd, 0, 0, mapping.addr, 0x2000);
    // 0x1000: mov al, 1; out 0x10, al; jmp 0x1000
    mapping.bytes.set([0xb0, 0x01, 0xe6, 0x10, 0xeb, 0xfa], 0x1000);
    const vmm = new GuestMemory();
    vmm.addRegion(0, mapping.bytes, { writes: mapping.writes });
    const { vcpufd, map, run } = realModeVcpu(host, vmfd, 0, 0x1000);
    const w = await inWorker(host, vcpufd);
    const out = async (): Promise<number> => {
      expect(await w.runIoctl()).toBe(0);
      expect([run.get('exit_reason'), run.get('io.port')]).toEqual([C.KVM_EXIT_IO, 0x10]);
      return map[run.get('io.data_offset')]!;
    };
    expect(await out()).toBe(1);
    expect(await out()).toBe(1);
    vmm.write8(0x1001, 2);
    expect(await out()).toBe(2);
    vmm.subarray(0x1001, 1)![0] = 3;
    vmm.markDirty(0x1001, 1);
    expect(await out()).toBe(3);
  }, 60_000);

  it('runs the LWN example with the same exits, output and final RIP as in-thread', async () => {
    const results = [];
    for (const where of ['thread', 'worker', 'worker runSync'] as const) {
      const { host, vmfd, ram } = vmWithRam(0x2000);
      ram.set(LWN, 0x1000);
      const { vcpufd, map } = realModeVcpu(host, vmfd, 0, 0x1000, { rax: 2, rbx: 2 });
      const w = where === 'thread' ? null : await inWorker(host, vcpufd);
      const run =
        w === null
          ? () => host.ioctl(vcpufd, I.KVM_RUN, 0)
          : where === 'worker'
            ? () => w.runIoctl()
            : () => w.runSync();
      results.push({ ...(await lwnExits(run, map)), rip: rip(host, vcpufd) });
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(results[1]).toEqual({
      exits: [C.KVM_EXIT_IO, C.KVM_EXIT_IO, C.KVM_EXIT_HLT],
      out: '4\n',
      rip: 0x100c,
    });
  }, 60_000);

  it('runs two vCPUs of one VM on two workers: one spins in guest code while the other completes 200 I/O exits', async () => {
    const { host, vmfd, ram } = vmWithRam(0x4000);
    ram.set(JMP_SELF, 0x2000);
    // inc al; out 0x80, al; jmp back: an endless stream of I/O exits.
    ram.set([0xfe, 0xc0, 0xe6, 0x80, 0xeb, 0xfa], 0x3000);
    const spinner = realModeVcpu(host, vmfd, 0, 0x2000);
    const talker = realModeVcpu(host, vmfd, 1, 0x3000);
    const [w0, w1] = await Promise.all([inWorker(host, spinner.vcpufd), inWorker(host, talker.vcpufd)]);
    let spinDone = false;
    const spin = w0.runIoctl().then((r) => {
      spinDone = true;
      return r;
    });
    const seen: number[] = [];
    for (let i = 0; i < 200; i++) {
      expect(await w1.runIoctl()).toBe(0);
      expect(talker.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      seen.push(talker.map[talker.run.get('io.data_offset')]!);
    }
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => (i + 1) & 0xff));
    // All the while vCPU 0 was inside KVM_RUN, spinning; its fd refuses other ioctls meanwhile.
    expect(spinDone).toBe(false);
    expect(w0.running).toBe(true);
    expect(host.ioctl(spinner.vcpufd, I.KVM_GET_REGS, allocStruct(kvm_regs).bytes)).toBe(-EBUSY);
    expect(host.ioctl(spinner.vcpufd, I.KVM_RUN, 0)).toBe(-EBUSY);
    expect(await w0.runIoctl()).toBe(-EBUSY);
    w0.kick();
    expect(await spin).toBe(-EINTR);
    expect(spinner.run.get('exit_reason')).toBe(C.KVM_EXIT_INTR);
    expect(rip(host, spinner.vcpufd)).toBe(0x2000);
  }, 60_000);

  it('a kick makes a spinning KVM_RUN return -EINTR (KVM_EXIT_INTR) within 500 ms, and a pending one the next', async () => {
    const { host, vmfd, ram } = vmWithRam(0x4000);
    ram.set(JMP_SELF, 0x2000);
    const { vcpufd, run } = realModeVcpu(host, vmfd, 0, 0x2000);
    const w = await inWorker(host, vcpufd);
    for (let i = 0; i < 3; i++) {
      const p = w.runIoctl();
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      w.kick();
      expect(await p).toBe(-EINTR);
      expect(performance.now() - t0).toBeLessThan(500);
      expect(run.get('exit_reason')).toBe(C.KVM_EXIT_INTR);
    }
    // A signal that arrives outside KVM_RUN stays pending: the next KVM_RUN returns at once, once.
    w.kick();
    expect(await w.runIoctl()).toBe(-EINTR);
    // immediate_exit set by this thread in the shared kvm_run: -EINTR before entering the guest.
    run.set('immediate_exit', 1);
    expect(await w.runIoctl()).toBe(-EINTR);
    run.set('immediate_exit', 0);
    expect(host.vcpuRunner(vcpufd)).toBeUndefined();
  }, 60_000);

  it('takes an interrupt injected with KVM_INTERRUPT from the VMM thread after a kick', async () => {
    const { host, vmfd, ram } = vmWithRam(0x4000);
    // IVT entry 0x20 -> 0000:3000; handler: mov al,0x42; out 0x10,al; hlt. Main code: sti; jmp $.
    new DataView(ram.buffer).setUint32(0x20 * 4, 0x0000_3000, true);
    ram.set([0xb0, 0x42, 0xe6, 0x10, 0xf4], 0x3000);
    ram.set([0xfb, ...JMP_SELF], 0x2000);
    const { vcpufd, run, map } = realModeVcpu(host, vmfd, 0, 0x2000);
    const w = await inWorker(host, vcpufd);
    // Kick until the guest is past its STI (a kick that lands before the worker enters the guest
    // returns before the first instruction, with IF still 0).
    for (let i = 0; i < 20 && run.get('ready_for_interrupt_injection') === 0; i++) {
      const p = w.runIoctl();
      await new Promise((r) => setTimeout(r, 30));
      w.kick();
      expect(await p).toBe(-EINTR);
    }
    expect(run.get('ready_for_interrupt_injection')).toBe(1);
    expect(rip(host, vcpufd)).toBe(0x2001);
    const irq = allocStruct(kvm_interrupt);
    irq.set('irq', 0x20);
    expect(host.ioctl(vcpufd, I.KVM_INTERRUPT, irq.bytes)).toBe(0);
    expect(await w.runIoctl()).toBe(0);
    expect([run.get('exit_reason'), run.get('io.port'), map[run.get('io.data_offset')]]).toEqual([
      C.KVM_EXIT_IO,
      0x10,
      0x42,
    ]);
  }, 60_000);

  it("makes the guest's writes on the worker visible in the VMM's RAM and dirty log, and follows memslot changes", async () => {
    const { host, vmfd, ram } = vmWithRam(0x4000, C.KVM_MEM_LOG_DIRTY_PAGES);
    // mov ax,0xbeef; mov [0x3000],ax; hlt
    ram.set([0xb8, 0xef, 0xbe, 0xa3, 0x00, 0x30, 0xf4], 0x1000);
    const { vcpufd, run } = realModeVcpu(host, vmfd, 0, 0x1000);
    const w = await inWorker(host, vcpufd);
    expect(await w.runIoctl()).toBe(0);
    expect(run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
    expect(new DataView(ram.buffer).getUint16(0x3000, true)).toBe(0xbeef);
    const bitmap = host.mmap(4096);
    const log = allocStruct(kvm_dirty_log);
    log.set('slot', 0);
    log.set('dirty_bitmap', bitmap.addr);
    expect(host.ioctl(vmfd, I.KVM_GET_DIRTY_LOG, log.bytes)).toBe(0);
    expect(bitmap.bytes[0]! & (1 << 3)).toBe(1 << 3);
    // A slot added after the worker started, and RIP moved there by KVM_SET_REGS: out 0x99,al; hlt.
    const more = host.mmap(0x1000);
    more.bytes.set([0xe6, 0x99, 0xf4]);
    addSlot(host, vmfd, 1, 0x8000, more.addr, 0x1000);
    const r = allocStruct(kvm_regs);
    expect(host.ioctl(vcpufd, I.KVM_GET_REGS, r.bytes)).toBe(0);
    r.set('rip', 0x8000);
    expect(host.ioctl(vcpufd, I.KVM_SET_REGS, r.bytes)).toBe(0);
    expect(await w.runIoctl()).toBe(0);
    expect([run.get('exit_reason'), run.get('io.port')]).toEqual([C.KVM_EXIT_IO, 0x99]);
  }, 60_000);

  it('consumes an OUT that matches an ioeventfd of the VM and resumes the guest', async () => {
    const { host, vmfd, ram } = vmWithRam(0x4000);
    // out 0x70,al; out 0x71,al; hlt
    ram.set([0xe6, 0x70, 0xe6, 0x71, 0xf4], 0x1000);
    const { vcpufd, run } = realModeVcpu(host, vmfd, 0, 0x1000);
    const efd = host.eventfd(0, 0);
    const ioev = new Uint8Array(64);
    const v = new DataView(ioev.buffer);
    v.setBigUint64(8, 0x70n, true); // addr
    v.setUint32(16, 1, true); // len
    v.setInt32(20, efd, true); // fd
    v.setUint32(24, C.KVM_IOEVENTFD_FLAG_PIO, true);
    expect(host.ioctl(vmfd, I.KVM_IOEVENTFD, ioev)).toBe(0);
    const w = await inWorker(host, vcpufd);
    expect(await w.runIoctl()).toBe(0);
    expect([run.get('exit_reason'), run.get('io.port')]).toEqual([C.KVM_EXIT_IO, 0x71]);
    const count = new Uint8Array(8);
    expect(host.read(efd, count)).toBe(8);
    expect(count[0]).toBe(1);
  }, 60_000);

  it('turns a worker failure into a rejected promise, never a hang', async () => {
    // Bad state: a vCPU state buffer far too small for the registers; then KVM_RUN without a vCPU.
    const port = spawnVcpuWorker();
    const replies: FromVcpuThread[] = [];
    const failed = new Promise<Error>((resolve) => port.listen((m) => replies.push(m), resolve));
    const got = new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (replies.length > 1) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    const { host: h0 } = vmWithRam(0x1000);
    port.postMessage({
      type: 'init',
      vcpu: { id: 0, run: new SharedArrayBuffer(3 * 4096), state: new SharedArrayBuffer(8) },
      control: new SharedArrayBuffer(CONTROL_CELLS * 4),
      model: h0.model,
      options: {
        ept: true,
        unrestrictedGuest: true,
        vpid: true,
        sliceInstructions: 1e9,
        haltWaitNs: 0,
        tscKhz: null,
      },
      timeOrigin: performance.timeOrigin,
      vm: EMPTY_VM,
      lapic: null,
    });
    port.postMessage({
      type: 'vm',
      seq: 1,
      vm: EMPTY_VM,
    });
    await got;
    expect(replies[0]).toMatchObject({ type: 'error', message: expect.stringContaining('RangeError') });
    expect(replies[1]).toMatchObject({
      type: 'error',
      message: expect.stringContaining('before the vCPU thread'),
    });
    await port.terminate();
    void failed;

    const { host, vmfd, ram } = vmWithRam(0x4000);
    ram.set(JMP_SELF, 0x2000);
    const { vcpufd } = realModeVcpu(host, vmfd, 0, 0x2000);
    const w = await startVcpuWorker(host, vcpufd);
    const rejected = expect(w.runIoctl()).rejects.toThrow('terminated');
    // The worker dies in the middle of KVM_RUN (here: terminated).
    await w.terminate();
    await rejected;
    await expect(w.runIoctl()).rejects.toThrow('terminated');
    // The vCPU fd runs in this thread again.
    host.vcpuState(vcpufd)!.run[kvm_run.fields.immediate_exit.offset] = 1;
    expect(host.ioctl(vcpufd, I.KVM_RUN, 0)).toBe(-EINTR);
  }, 60_000);

  it('a failure inside the vCPU thread rejects runIoctl() and throws from runSync() through the doorbell, never a hang', async () => {
    for (const how of ['runIoctl', 'runSync'] as const) {
      const { host, vmfd, ram } = vmWithRam(0x4000);
      ram.set([0xf4], 0x1000);
      const { vcpufd } = realModeVcpu(host, vmfd, 0, 0x1000);
      // A port that corrupts the VM changes it carries: the worker throws while applying one.
      const inner = spawnVcpuWorker();
      const port = {
        ...inner,
        listen: inner.listen.bind(inner),
        postMessage: (m: Parameters<typeof inner.postMessage>[0]) =>
          inner.postMessage(m.type === 'vm' ? ({ ...m, vm: null } as never) : m),
      };
      const w = await VcpuWorker.attach(host, vcpufd, port);
      workers.push(w);
      addSlot(host, vmfd, 1, 0x8000, host.mmap(0x1000).addr, 0x1000);
      if (how === 'runIoctl') await expect(w.runIoctl()).rejects.toThrow('vCPU worker: TypeError');
      else expect(() => w.runSync()).toThrow('vCPU worker: TypeError');
      expect(w.running).toBe(false);
      await expect(w.runIoctl()).rejects.toThrow('vCPU worker');
    }
  }, 60_000);

  it('runs the README example (typed face, a spinning guest kicked from the VMM thread)', async () => {
    const kvm = Kvm.open(new KvmHost());
    const vm = kvm.createVm();
    const ram = kvm.host.mmap(0x10000);
    vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x10000, userspaceAddr: ram.addr });
    const vcpu = vm.createVcpu(0);
    ram.bytes.set([0xe6, 0x80, 0xeb, 0xfc], 0x7c00); // out 0x80, al; jmp back
    vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x7c00n, rax: 0x2an });
    const sregs = vcpu.getSregs();
    vcpu.setSregs({ ...sregs, cs: { ...sregs.cs, base: 0n, selector: 0 } });

    const worker = await startVcpuWorker(kvm.host, vcpu.fd);
    workers.push(worker);
    expect(await worker.runGuest()).toEqual({
      kind: 'IoOut',
      port: 0x80,
      size: 1,
      count: 1,
      data: new Uint8Array([0x2a]),
    });
    ram.bytes.set([0xeb, 0xfe], 0x7c02); // now: jmp $
    const spinning = worker.runIoctl();
    await new Promise((r) => setTimeout(r, 20));
    expect(worker.running).toBe(true);
    worker.kick();
    expect(await spinning).toBe(-EINTR);
    expect(new StructView(kvm_run, worker.run).get('exit_reason')).toBe(C.KVM_EXIT_INTR);
    expect(vcpu.getRegs().rip).toBe(0x7c02n);
  }, 60_000);

  it('refuses a vCPU that already ran in this thread (EBUSY)', async () => {
    const b = vmWithRam(0x4000);
    b.ram.set([0xf4, 0xf4], 0x1000); // hlt; hlt
    const ran = realModeVcpu(b.host, b.vmfd, 0, 0x1000);
    expect(b.host.ioctl(ran.vcpufd, I.KVM_RUN, 0)).toBe(0);
    await expect(startVcpuWorker(b.host, ran.vcpufd)).rejects.toMatchObject({ errno: EBUSY });
    // Still this thread's vCPU: the second HLT.
    expect(b.host.ioctl(ran.vcpufd, I.KVM_RUN, 0)).toBe(0);
    expect([ran.run.get('exit_reason'), rip(b.host, ran.vcpufd)]).toEqual([C.KVM_EXIT_HLT, 0x1002]);
  }, 60_000);
});
