import * as C from './uapi/constants.js';
import { StructView } from './uapi/layout.js';
import { kvm_run } from './uapi/structs.js';

/**
 * The exit a vCPU reported in kvm_run, as a discriminated union (after rust-vmm kvm-ioctls'
 * `VcpuExit`). I/O and MMIO data are views into the mapping: fill them in for reads before the next
 * KVM_RUN, which completes the access.
 */
export type VcpuExit =
  | {
      readonly kind: 'IoIn';
      readonly port: number;
      readonly size: number;
      readonly count: number;
      readonly data: Uint8Array;
    }
  | {
      readonly kind: 'IoOut';
      readonly port: number;
      readonly size: number;
      readonly count: number;
      readonly data: Uint8Array;
    }
  | { readonly kind: 'MmioRead'; readonly addr: number; readonly data: Uint8Array }
  | { readonly kind: 'MmioWrite'; readonly addr: number; readonly data: Uint8Array }
  | { readonly kind: 'Hlt' }
  | { readonly kind: 'Shutdown' }
  | { readonly kind: 'IrqWindowOpen' }
  | { readonly kind: 'Intr' }
  | { readonly kind: 'Unknown'; readonly hardwareExitReason: bigint }
  | { readonly kind: 'Exception'; readonly exception: number; readonly errorCode: number }
  | { readonly kind: 'FailEntry'; readonly hardwareEntryFailureReason: bigint; readonly cpu: number }
  | { readonly kind: 'InternalError'; readonly suberror: number; readonly data: readonly bigint[] }
  | { readonly kind: 'SystemEvent'; readonly type: number; readonly data: readonly bigint[] }
  | {
      readonly kind: 'Debug';
      readonly exception: number;
      readonly pc: bigint;
      readonly dr6: bigint;
      readonly dr7: bigint;
    }
  | { readonly kind: 'X86Rdmsr'; readonly index: number; readonly reason: number }
  | { readonly kind: 'X86Wrmsr'; readonly index: number; readonly reason: number; readonly data: bigint }
  | { readonly kind: 'Unsupported'; readonly exitReason: number };

function u64s(
  v: StructView<keyof typeof kvm_run.fields & string>,
  field: 'internal.data' | 'system_event.data',
  n: number,
): bigint[] {
  const bytes = v.bytesOf(field);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: bigint[] = [];
  for (let i = 0; i < Math.min(n, 16); i++) out.push(dv.getBigUint64(i * 8, true));
  return out;
}

/** Decodes the exit described by a vCPU mapping (`mmap(size, vcpuFd)`), as handle_kvm_exit does: a pure function. */
export function decodeExit(run: Uint8Array): VcpuExit {
  const v = new StructView(kvm_run, run);
  const reason = v.get('exit_reason');
  switch (reason) {
    case C.KVM_EXIT_IO: {
      const size = v.get('io.size');
      const count = v.get('io.count');
      const offset = v.get('io.data_offset');
      const len = size * count;
      if (offset + len > run.byteLength) return { kind: 'Unsupported', exitReason: reason };
      const data = run.subarray(offset, offset + len);
      const port = v.get('io.port');
      const kind = v.get('io.direction') === C.KVM_EXIT_IO_OUT ? 'IoOut' : 'IoIn';
      return { kind, port, size, count, data };
    }
    case C.KVM_EXIT_MMIO: {
      const len = Math.min(v.get('mmio.len'), 8);
      const data = v.bytesOf('mmio.data').subarray(0, len);
      const addr = v.get('mmio.phys_addr');
      return v.get('mmio.is_write') ? { kind: 'MmioWrite', addr, data } : { kind: 'MmioRead', addr, data };
    }
    case C.KVM_EXIT_HLT:
      return { kind: 'Hlt' };
    case C.KVM_EXIT_SHUTDOWN:
      return { kind: 'Shutdown' };
    case C.KVM_EXIT_IRQ_WINDOW_OPEN:
      return { kind: 'IrqWindowOpen' };
    case C.KVM_EXIT_INTR:
      return { kind: 'Intr' };
    case C.KVM_EXIT_UNKNOWN:
      return { kind: 'Unknown', hardwareExitReason: v.getBigInt('hw.hardware_exit_reason') };
    case C.KVM_EXIT_EXCEPTION:
      return { kind: 'Exception', exception: v.get('ex.exception'), errorCode: v.get('ex.error_code') };
    case C.KVM_EXIT_FAIL_ENTRY:
      return {
        kind: 'FailEntry',
        hardwareEntryFailureReason: v.getBigInt('fail_entry.hardware_entry_failure_reason'),
        cpu: v.get('fail_entry.cpu'),
      };
    case C.KVM_EXIT_INTERNAL_ERROR:
      return {
        kind: 'InternalError',
        suberror: v.get('internal.suberror'),
        data: u64s(v, 'internal.data', v.get('internal.ndata')),
      };
    case C.KVM_EXIT_SYSTEM_EVENT:
      return {
        kind: 'SystemEvent',
        type: v.get('system_event.type'),
        data: u64s(v, 'system_event.data', v.get('system_event.ndata')),
      };
    case C.KVM_EXIT_DEBUG:
      return {
        kind: 'Debug',
        exception: v.get('debug.arch.exception'),
        pc: v.getBigInt('debug.arch.pc'),
        dr6: v.getBigInt('debug.arch.dr6'),
        dr7: v.getBigInt('debug.arch.dr7'),
      };
    case C.KVM_EXIT_X86_RDMSR:
      return { kind: 'X86Rdmsr', index: v.get('msr.index'), reason: v.get('msr.reason') };
    case C.KVM_EXIT_X86_WRMSR:
      return {
        kind: 'X86Wrmsr',
        index: v.get('msr.index'),
        reason: v.get('msr.reason'),
        data: v.getBigInt('msr.data'),
      };
    default:
      return { kind: 'Unsupported', exitReason: reason };
  }
}
