import { describe, expect, it } from 'vitest';
import { KvmHost } from '../kernel/host.js';
import * as C from '../uapi/constants.js';
import { EINTR, EINVAL } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { StructView, allocStruct } from '../uapi/layout.js';
import { kvm_regs, kvm_run, kvm_segment, kvm_sregs, kvm_userspace_memory_region } from '../uapi/structs.js';
import {
  CONTROL_CELLS,
  CONTROL_DOORBELL,
  CONTROL_ERROR_LENGTH,
  CONTROL_ERROR_OFFSET,
  CONTROL_INVALIDATE,
  CONTROL_LAPIC_OP,
  CONTROL_LAPIC_RESULT,
  CONTROL_RESULT,
  CONTROL_SIGNAL,
  CONTROL_VM_SEQ,
  Doorbell,
  type InitMessage,
  LapicOp,
  type VmImage,
} from './protocol.js';
import { vcpuThreadHandler } from './vcpu-thread.js';

/** LWN "Using the KVM API": mov dx,0x3f8; add al,bl; add al,'0'; out dx,al; mov al,'\n'; out dx,al; hlt. */
const LWN = [0xba, 0xf8, 0x03, 0x00, 0xd8, 0x04, 0x30, 0xee, 0xb0, 0x0a, 0xee, 0xf4];

/** The LWN VM on a host, and the init message a VcpuWorker would send for its vCPU. */
function lwnInit(): { init: InitMessage; run: StructView<keyof typeof kvm_run.fields>; map: Uint8Array } {
  const host = new KvmHost({ tscKhz: 'instructions' });
  const kvm = host.open('/dev/kvm');
  const vmfd = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
  const mem = host.mmap(0x1000);
  mem.bytes.set(LWN);
  const region = allocStruct(kvm_userspace_memory_region);
  region.set('guest_phys_addr', 0x1000);
  region.set('memory_size', 0x1000);
  region.set('userspace_addr', mem.addr);
  expect(host.ioctl(vmfd, I.KVM_SET_USER_MEMORY_REGION, region.bytes)).toBe(0);
  const vcpufd = host.ioctl(vmfd, I.KVM_CREATE_VCPU, 0);
  const sregs = allocStruct(kvm_sregs);
  host.ioctl(vcpufd, I.KVM_GET_SREGS, sregs.bytes);
  sregs.sub('cs', kvm_segment).set('base', 0);
  sregs.sub('cs', kvm_segment).set('selector', 0);
  host.ioctl(vcpufd, I.KVM_SET_SREGS, sregs.bytes);
  const regs = allocStruct(kvm_regs);
  regs.set('rip', 0x1000);
  regs.set('rax', 2);
  regs.set('rbx', 2);
  regs.set('rflags', 2);
  host.ioctl(vcpufd, I.KVM_SET_REGS, regs.bytes);
  const vm = host.vmState(vmfd)!;
  const s = vm.memslots.get(0)!;
  const image: VmImage = {
    generation: vm.memslots.generation,
    slots: [
      {
        id: 0,
        gpa: s.gpa,
        size: s.size,
        userspaceAddr: s.userspaceAddr,
        flags: s.flags,
        bytes: s.region!.bytes,
        dirtyWords: null,
        dirtyPages: 0,
        writeWords: null,
        writePages: 0,
      },
    ],
    tssAddr: null,
    userSpaceMsr: 0,
    kvmclockOffset: 0n,
    clockGeneration: 0,
  };
  const vcpu = host.vcpuState(vcpufd)!;
  const init: InitMessage = {
    type: 'init',
    vcpu: vcpu.shared,
    control: new SharedArrayBuffer(CONTROL_CELLS * 4),
    model: host.model,
    options: {
      ept: true,
      unrestrictedGuest: true,
      vpid: true,
      sliceInstructions: Infinity,
      haltWaitNs: 0,
      tscKhz: null,
    },
    timeOrigin: performance.timeOrigin,
    vm: image,
    lapic: null,
  };
  return { init, run: new StructView(kvm_run, vcpu.run), map: vcpu.run };
}

/** Rings the doorbell as the VMM thread does and serves it here; KVM_RUN's result. */
function ringAndServe(handle: ReturnType<typeof vcpuThreadHandler>, control: Int32Array): number {
  Atomics.store(control, CONTROL_DOORBELL, Doorbell.RUN);
  expect(handle.serve(0)).toBe('ran');
  expect(Atomics.load(control, CONTROL_DOORBELL)).toBe(Doorbell.DONE);
  return Atomics.load(control, CONTROL_RESULT);
}

describe('the vCPU thread handler (the worker side, run here without a worker)', () => {
  it('runs the LWN guest from the doorbell alone: ready, then IO, IO, HLT exits; the state on FLUSH', () => {
    const { init, run, map } = lwnInit();
    const handle = vcpuThreadHandler();
    expect(handle(init)).toEqual({ type: 'ready' });
    const control = new Int32Array(init.control);
    const exits: number[] = [];
    let out = '';
    for (let i = 0; i < 3; i++) {
      expect(ringAndServe(handle, control)).toBe(0);
      exits.push(run.get('exit_reason'));
      if (run.get('exit_reason') === C.KVM_EXIT_IO)
        out += String.fromCharCode(map[run.get('io.data_offset')]!);
    }
    expect(exits).toEqual([C.KVM_EXIT_IO, C.KVM_EXIT_IO, C.KVM_EXIT_HLT]);
    expect(out).toBe('4\n');
    // The shared state buffer gets the registers when the VMM thread asks (FLUSH): RIP past the HLT.
    const regs = new StructView(kvm_regs, new Uint8Array(init.vcpu.state, 0, kvm_regs.size));
    expect(regs.get('rip')).toBe(0x1000);
    Atomics.store(control, CONTROL_DOORBELL, Doorbell.FLUSH);
    expect(handle.serve(0)).toBe('ran');
    expect(Atomics.load(control, CONTROL_DOORBELL)).toBe(Doorbell.FLUSHED);
    expect(regs.get('rip')).toBe(0x100c);
  });

  it('stores the vCPU state after every run when told to (a VMM thread that cannot block)', () => {
    const { init } = lwnInit();
    const handle = vcpuThreadHandler();
    handle({ ...init, options: { ...init.options, eagerFlush: true } });
    const control = new Int32Array(init.control);
    const regs = new StructView(kvm_regs, new Uint8Array(init.vcpu.state, 0, kvm_regs.size));
    expect(ringAndServe(handle, control)).toBe(0);
    expect(regs.get('rip')).toBe(0x1007); // at the first OUT (the next run completes it)
  });

  it('waits on an idle doorbell for the given time only, and runs nothing', () => {
    const { init } = lwnInit();
    const handle = vcpuThreadHandler();
    expect(handle.serve(0)).toBe('off');
    handle(init);
    const t0 = performance.now();
    expect(handle.serve(20)).toBe('idle');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    expect(Atomics.load(new Int32Array(init.control), CONTROL_DOORBELL)).toBe(Doorbell.IDLE);
  });

  it("holds a run back until the 'vm' message of its sequence number is applied", () => {
    const { init, run } = lwnInit();
    const handle = vcpuThreadHandler();
    handle(init);
    const control = new Int32Array(init.control);
    // The VMM thread moved the guest's code: a second slot at 0x8000 (out 0x99,al; hlt), RIP there.
    const code = new Uint8Array(new SharedArrayBuffer(0x1000));
    code.set([0xe6, 0x99, 0xf4]);
    const slot = { id: 1, gpa: 0x8000, size: 0x1000, userspaceAddr: 1 << 30, flags: 0 };
    const vm: VmImage = {
      ...init.vm,
      generation: init.vm.generation + 1,
      slots: [
        ...init.vm.slots!,
        { ...slot, bytes: code, dirtyWords: null, dirtyPages: 0, writeWords: null, writePages: 0 },
      ],
    };
    const regs = new StructView(kvm_regs, new Uint8Array(init.vcpu.state, 0, kvm_regs.size));
    regs.set('rip', 0x8000);
    Atomics.store(control, CONTROL_VM_SEQ, 1);
    Atomics.store(control, CONTROL_INVALIDATE, 1);
    Atomics.store(control, CONTROL_DOORBELL, Doorbell.RUN);
    expect(handle.serve(0)).toBe('message');
    expect(handle({ type: 'vm', seq: 1, vm })).toBeNull();
    expect(handle.serve(0)).toBe('ran');
    expect([Atomics.load(control, CONTROL_RESULT), run.get('exit_reason'), run.get('io.port')]).toEqual([
      0,
      C.KVM_EXIT_IO,
      0x99,
    ]);
  });

  it('returns -EINTR for a signal left pending in the control cell', () => {
    const { init, run } = lwnInit();
    const handle = vcpuThreadHandler();
    handle(init);
    const control = new Int32Array(init.control);
    Atomics.store(control, CONTROL_SIGNAL, 1);
    expect(ringAndServe(handle, control)).toBe(-EINTR);
    expect(run.get('exit_reason')).toBe(C.KVM_EXIT_INTR);
    expect(Atomics.load(control, CONTROL_SIGNAL)).toBe(0);
  });

  it('answers bad messages with an error reply instead of throwing, and posts FAILED once broken', () => {
    const handle = vcpuThreadHandler();
    const vm: VmImage = {
      generation: 0,
      slots: [],
      tssAddr: null,
      userSpaceMsr: 0,
      kvmclockOffset: 0n,
      clockGeneration: 0,
    };
    expect(handle({ type: 'vm', seq: 1, vm })).toMatchObject({
      type: 'error',
      message: expect.stringContaining('before the vCPU thread'),
    });
    const { init } = lwnInit();
    expect(handle({ ...init, control: new SharedArrayBuffer(4) })).toMatchObject({ type: 'error' });
    expect(handle({ type: 'bogus' } as never)).toMatchObject({
      type: 'error',
      message: expect.stringContaining('bogus'),
    });
    expect(handle(init)).toEqual({ type: 'ready' });
    expect(handle(init)).toMatchObject({ type: 'error', message: expect.stringContaining('already') });
    const control = new Int32Array(init.control);
    expect(Atomics.load(control, CONTROL_DOORBELL)).toBe(Doorbell.FAILED);
    const text = new Uint8Array(
      init.control,
      CONTROL_ERROR_OFFSET,
      Atomics.load(control, CONTROL_ERROR_LENGTH),
    );
    expect(new TextDecoder().decode(text.slice())).toContain('already');
    expect(handle.serve(0)).toBe('off');
  });

  it('answers a LAPIC request without the in-kernel irqchip with -EINVAL (LAPIC_DONE), as in-thread', () => {
    const { init } = lwnInit();
    const handle = vcpuThreadHandler();
    expect(handle(init)).toEqual({ type: 'ready' });
    const control = new Int32Array(init.control);
    for (const op of [LapicOp.GET, LapicOp.SET, LapicOp.SET_BASE]) {
      Atomics.store(control, CONTROL_LAPIC_OP, op);
      Atomics.store(control, CONTROL_DOORBELL, Doorbell.LAPIC);
      expect(handle.serve(0)).toBe('ran');
      expect([Atomics.load(control, CONTROL_DOORBELL), Atomics.load(control, CONTROL_LAPIC_RESULT)]).toEqual([
        Doorbell.LAPIC_DONE,
        -EINVAL,
      ]);
    }
    // The thread goes on running the guest.
    expect(ringAndServe(handle, control)).toBe(0);
  });
});
