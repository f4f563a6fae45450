import type { VcpuExit } from '@typevisor/kvm';
import type { AccessSize, Bus, BusDevice } from '@typevisor/memory';

/** What the vCPU loop does after an exit has been handled. */
export type ExitAction =
  | { readonly kind: 'continue' }
  /** HLT without an in-kernel irqchip: wait for an interrupt (or a timer) before running again. */
  | { readonly kind: 'wait-for-interrupt' }
  /** The guest asked for an interrupt window and it is open: inject now. */
  | { readonly kind: 'inject' }
  /** Triple fault or a reset request: the machine resets (or exits with -no-reboot). */
  | { readonly kind: 'reset'; readonly reason: string }
  /** ACPI power-off and the like: the machine shuts down. */
  | { readonly kind: 'shutdown'; readonly reason: string }
  /** Something the VMM cannot continue from; the message names it. */
  | { readonly kind: 'error'; readonly message: string };

/** The buses an exit is dispatched to. */
export interface ExitTargets {
  readonly pio: Bus<BusDevice>;
  readonly mmio: Bus<BusDevice>;
}

const CONTINUE: ExitAction = { kind: 'continue' };

/** KVM_SYSTEM_EVENT_* types (linux/kvm.h). */
const SYSTEM_EVENT = { SHUTDOWN: 1, RESET: 2, CRASH: 3 } as const;

function readAccess(bus: Bus<BusDevice>, addr: number, data: Uint8Array, size: number): void {
  // Split into naturally sized pieces the bus understands (1, 2, 4); 8-byte MMIO is two 4-byte halves.
  let off = 0;
  while (off < size) {
    const n = (size - off >= 4 ? 4 : size - off >= 2 ? 2 : 1) as AccessSize;
    let v = bus.read(addr + off, n);
    for (let i = 0; i < n; i++) {
      data[off + i] = v & 0xff;
      v >>>= 8;
    }
    off += n;
  }
}

function writeAccess(bus: Bus<BusDevice>, addr: number, data: Uint8Array, size: number): void {
  let off = 0;
  while (off < size) {
    const n = (size - off >= 4 ? 4 : size - off >= 2 ? 2 : 1) as AccessSize;
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + (data[off + i] ?? 0);
    bus.write(addr + off, n, v);
    off += n;
  }
}

/**
 * Handles one KVM exit against the machine's buses and says what the loop does next. A pure
 * function of the exit and the buses (Firecracker's `handle_kvm_exit`): port and MMIO data move
 * through the `data` views of the kvm_run page, so an IN or MMIO read completes on the next KVM_RUN.
 */
export function handleExit(exit: VcpuExit, t: ExitTargets): ExitAction {
  switch (exit.kind) {
    case 'IoIn':
    case 'IoOut': {
      // String I/O (INS/OUTS with REP): `count` items of `size` bytes each, back to back.
      for (let i = 0; i < exit.count; i++) {
        const item = exit.data.subarray(i * exit.size, (i + 1) * exit.size);
        if (exit.kind === 'IoIn') readAccess(t.pio, exit.port, item, exit.size);
        else writeAccess(t.pio, exit.port, item, exit.size);
      }
      return CONTINUE;
    }
    case 'MmioRead':
      readAccess(t.mmio, exit.addr, exit.data, exit.data.length);
      return CONTINUE;
    case 'MmioWrite':
      writeAccess(t.mmio, exit.addr, exit.data, exit.data.length);
      return CONTINUE;
    case 'Hlt':
      return { kind: 'wait-for-interrupt' };
    case 'IrqWindowOpen':
      return { kind: 'inject' };
    case 'Intr':
      return CONTINUE;
    case 'Shutdown':
      return { kind: 'reset', reason: 'triple fault' };
    case 'SystemEvent':
      if (exit.type === SYSTEM_EVENT.RESET) return { kind: 'reset', reason: 'guest reset request' };
      if (exit.type === SYSTEM_EVENT.SHUTDOWN) return { kind: 'shutdown', reason: 'guest power-off' };
      return { kind: 'error', message: `guest crash (system event ${exit.type})` };
    case 'FailEntry':
      return {
        kind: 'error',
        message: `KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x${exit.hardwareEntryFailureReason.toString(16)}`,
      };
    case 'InternalError':
      return { kind: 'error', message: `KVM_EXIT_INTERNAL_ERROR: suberror ${exit.suberror}` };
    case 'Unknown':
      return {
        kind: 'error',
        message: `KVM_EXIT_UNKNOWN: hardware exit reason 0x${exit.hardwareExitReason.toString(16)}`,
      };
    case 'Exception':
      return {
        kind: 'error',
        message: `KVM_EXIT_EXCEPTION: vector ${exit.exception}, error code 0x${exit.errorCode.toString(16)}`,
      };
    case 'Debug':
      return { kind: 'continue' };
    case 'X86Rdmsr':
    case 'X86Wrmsr':
      return {
        kind: 'error',
        message: `MSR 0x${exit.index.toString(16)} exit without a userspace MSR handler`,
      };
    case 'Unsupported':
      return { kind: 'error', message: `unsupported exit reason ${exit.exitReason}` };
  }
}
