import { describe, expect, it } from 'vitest';
import { KvmHost } from '../kernel/host.js';
import * as C from '../uapi/constants.js';
import { EINTR } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { StructView, allocStruct } from '../uapi/layout.js';
import { kvm_regs, kvm_run, kvm_segment, kvm_sregs, kvm_userspace_memory_region } from '../uapi/structs.js';
import { CONTROL_CELLS, CONTROL_SIGNAL, type InitMessage, type VmImage } from './protocol.js';
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
      },
    ],
    tssAddr: null,
    userSpaceMsr: 0,
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
  };
  return { init, run: new StructView(kvm_run, vcpu.run), map: vcpu.run };
}

describe('the vCPU thread handler (the worker side, run here without a worker)', () => {
  it('runs the LWN guest from messages alone: ready, then IO, IO, HLT exits', () => {
    const { init, run, map } = lwnInit();
    const handle = vcpuThreadHandler();
    expect(handle(init)).toEqual({ type: 'ready' });
    const same: VmImage = { ...init.vm, slots: null };
    const exits: number[] = [];
    let out = '';
    for (let seq = 1; seq <= 3; seq++) {
      expect(handle({ type: 'run', seq, invalidate: false, vm: same })).toEqual({
        type: 'exit',
        seq,
        result: 0,
      });
      exits.push(run.get('exit_reason'));
      if (run.get('exit_reason') === C.KVM_EXIT_IO)
        out += String.fromCharCode(map[run.get('io.data_offset')]!);
    }
    expect(exits).toEqual([C.KVM_EXIT_IO, C.KVM_EXIT_IO, C.KVM_EXIT_HLT]);
    expect(out).toBe('4\n');
    // The registers were flushed to the shared state buffer after the run: RIP past the HLT.
    expect(new StructView(kvm_regs, new Uint8Array(init.vcpu.state, 0, kvm_regs.size)).get('rip')).toBe(
      0x100c,
    );
  });

  it('returns -EINTR for a signal left pending in the control cell', () => {
    const { init, run } = lwnInit();
    const handle = vcpuThreadHandler();
    handle(init);
    const control = new Int32Array(init.control);
    Atomics.store(control, CONTROL_SIGNAL, 1);
    expect(handle({ type: 'run', seq: 1, invalidate: false, vm: init.vm })).toEqual({
      type: 'exit',
      seq: 1,
      result: -EINTR,
    });
    expect(run.get('exit_reason')).toBe(C.KVM_EXIT_INTR);
    expect(Atomics.load(control, CONTROL_SIGNAL)).toBe(0);
  });

  it('answers bad messages with an error reply instead of throwing', () => {
    const handle = vcpuThreadHandler();
    const vm: VmImage = { generation: 0, slots: [], tssAddr: null, userSpaceMsr: 0 };
    expect(handle({ type: 'run', seq: 7, invalidate: false, vm })).toMatchObject({ type: 'error', seq: 7 });
    const { init } = lwnInit();
    expect(handle({ ...init, control: new SharedArrayBuffer(0) })).toMatchObject({ type: 'error', seq: -1 });
    expect(handle({ type: 'bogus' } as never)).toMatchObject({
      type: 'error',
      message: expect.stringContaining('bogus'),
    });
    expect(handle(init)).toEqual({ type: 'ready' });
    expect(handle(init)).toMatchObject({ type: 'error', message: expect.stringContaining('already') });
  });
});
