import { describe, expect, it } from 'vitest';
import { decodeExit } from './exit.js';
import * as C from './uapi/constants.js';
import { StructView } from './uapi/layout.js';
import { kvm_run } from './uapi/structs.js';
import { KVM_VCPU_MMAP_SIZE } from './vcpu-state.js';

const mapping = () => {
  const run = new Uint8Array(KVM_VCPU_MMAP_SIZE);
  return { run, v: new StructView(kvm_run, run) };
};

describe('decodeExit', () => {
  it('decodes a string OUT with its data at data_offset in the PIO page', () => {
    const { run, v } = mapping();
    v.set('exit_reason', C.KVM_EXIT_IO);
    v.set('io.direction', C.KVM_EXIT_IO_OUT);
    v.set('io.size', 2);
    v.set('io.port', 0x3f8);
    v.set('io.count', 3);
    v.set('io.data_offset', 4096);
    run.set([1, 2, 3, 4, 5, 6], 4096);
    const e = decodeExit(run);
    expect(e).toMatchObject({ kind: 'IoOut', port: 0x3f8, size: 2, count: 3 });
    expect(e.kind === 'IoOut' && Array.from(e.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('hands back an IN buffer that writes through to the mapping', () => {
    const { run, v } = mapping();
    v.set('exit_reason', C.KVM_EXIT_IO);
    v.set('io.direction', C.KVM_EXIT_IO_IN);
    v.set('io.size', 1);
    v.set('io.count', 1);
    v.set('io.data_offset', 4096);
    const e = decodeExit(run);
    if (e.kind !== 'IoIn') throw new Error(e.kind);
    e.data[0] = 0x42;
    expect(run[4096]).toBe(0x42);
  });

  it('decodes MMIO reads and writes with len bytes of data', () => {
    const { run, v } = mapping();
    v.set('exit_reason', C.KVM_EXIT_MMIO);
    v.set('mmio.phys_addr', 0xfee0_0030);
    v.set('mmio.len', 4);
    v.set('mmio.is_write', 1);
    v.bytesOf('mmio.data').set([0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
    const e = decodeExit(run);
    expect(e.kind).toBe('MmioWrite');
    expect(e.kind === 'MmioWrite' && [e.addr, Array.from(e.data)]).toEqual([
      0xfee00030,
      [0xaa, 0xbb, 0xcc, 0xdd],
    ]);
    v.set('mmio.is_write', 0);
    expect(decodeExit(run).kind).toBe('MmioRead');
  });

  it('decodes the simple and the payload-carrying exits', () => {
    const { run, v } = mapping();
    const at = (reason: number) => {
      v.set('exit_reason', reason);
      return decodeExit(run);
    };
    expect(at(C.KVM_EXIT_HLT)).toEqual({ kind: 'Hlt' });
    expect(at(C.KVM_EXIT_SHUTDOWN)).toEqual({ kind: 'Shutdown' });
    expect(at(C.KVM_EXIT_IRQ_WINDOW_OPEN)).toEqual({ kind: 'IrqWindowOpen' });
    v.set('fail_entry.hardware_entry_failure_reason', 0x80000021);
    v.set('fail_entry.cpu', 2);
    expect(at(C.KVM_EXIT_FAIL_ENTRY)).toEqual({
      kind: 'FailEntry',
      hardwareEntryFailureReason: 0x80000021n,
      cpu: 2,
    });
    v.set('system_event.type', C.KVM_SYSTEM_EVENT_RESET);
    v.set('system_event.ndata', 1);
    v.set('system_event.flags', 7);
    expect(at(C.KVM_EXIT_SYSTEM_EVENT)).toEqual({ kind: 'SystemEvent', type: 2, data: [7n] });
    v.set('internal.suberror', C.KVM_INTERNAL_ERROR_EMULATION);
    v.set('internal.ndata', 0);
    expect(at(C.KVM_EXIT_INTERNAL_ERROR)).toEqual({ kind: 'InternalError', suberror: 1, data: [] });
    v.set('msr.index', 0xc0000080);
    v.set('msr.reason', C.KVM_MSR_EXIT_REASON_UNKNOWN);
    v.set('msr.data', 0x500);
    expect(at(C.KVM_EXIT_X86_WRMSR)).toEqual({
      kind: 'X86Wrmsr',
      index: 0xc0000080,
      reason: 2,
      data: 0x500n,
    });
    expect(at(C.KVM_EXIT_X86_RDMSR)).toEqual({ kind: 'X86Rdmsr', index: 0xc0000080, reason: 2 });
    v.set('debug.arch.exception', 1);
    v.set('debug.arch.pc', 0x1000);
    expect(at(C.KVM_EXIT_DEBUG)).toMatchObject({ kind: 'Debug', exception: 1, pc: 0x1000n });
    expect(at(C.KVM_EXIT_XEN)).toEqual({ kind: 'Unsupported', exitReason: C.KVM_EXIT_XEN });
  });

  it('refuses an I/O exit whose data would lie outside the mapping', () => {
    const { run, v } = mapping();
    v.set('exit_reason', C.KVM_EXIT_IO);
    v.set('io.size', 4);
    v.set('io.count', 1);
    v.set('io.data_offset', KVM_VCPU_MMAP_SIZE - 2);
    expect(decodeExit(run)).toEqual({ kind: 'Unsupported', exitReason: C.KVM_EXIT_IO });
  });
});
