/**
 * The bare CPU harness: Typevisor's CPU over guest RAM, with the serial port and isa-debug-exit as
 * port hooks, no VMX and no KVM. The kernel is loaded by the multiboot loader of @typevisor/qemu and
 * entered through the reset-vector trampoline (trampoline.ts), so the harness uses only the CPU's
 * public API and its architectural reset state.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestMemory } from '@typevisor/memory';
import { loadMultiboot, pcE820 } from '@typevisor/qemu';
import { Cpu, CpuExit, type CpuHooks, type CpuModel, NullHooks } from '@typevisor/x86-cpu';
import { TRAMPOLINE_BASE, TRAMPOLINE_ENTRY, TRAMPOLINE_MBI } from './trampoline.js';

const here = dirname(fileURLToPath(import.meta.url));
const RAM = 32 * 2 ** 20;
const SERIAL = 0x3f8;
const DEBUG_EXIT = 0xf4;

export interface HarnessRun {
  readonly serial: string;
  /** isa-debug-exit status as QEMU reports it ((value << 1) | 1), or null if the guest never exited. */
  readonly status: number | null;
  readonly instructions: number;
  /** Why the run ended when the guest did not exit through the debug port. */
  readonly note: string;
}

class HarnessHooks extends NullHooks implements CpuHooks {
  serial = '';
  status: number | null = null;
  constructor(private readonly cpu: () => Cpu) {
    super();
  }
  override portOut(port: number, size: 1 | 2 | 4, value: number): number {
    if (port === SERIAL) this.serial += String.fromCharCode(value & 0xff);
    else if (port === DEBUG_EXIT) {
      this.status = ((value & 0xff) << 1) | 1;
      this.cpu().requestStop();
    } else return super.portOut(port, size, value);
    return 0;
  }
}

/**
 * Runs a multiboot kernel under Typevisor's CPU until it exits, halts for good, or `budget` runs out.
 * `model` is the CPU model (the CPU's default when absent; the long-* programs need one with long mode).
 */
export function runOnTypevisor(kernelPath: string, budget = 400_000_000, model?: CpuModel): HarnessRun {
  const mem = new GuestMemory();
  mem.addRegion(0, new Uint8Array(new SharedArrayBuffer(RAM)));
  const trampoline = new Uint8Array(readFileSync(join(here, 'kernels', 'trampoline.bin')));
  const loaded = loadMultiboot(mem, {
    kernel: new Uint8Array(readFileSync(kernelPath)),
    cmdline: '',
    ramBytes: RAM,
    e820: pcE820(RAM),
  });
  if ('kind' in loaded) throw new Error(`multiboot: ${loaded.kind}: ${loaded.detail}`);
  const dv = new DataView(trampoline.buffer, trampoline.byteOffset);
  dv.setUint32(TRAMPOLINE_ENTRY, loaded.entry.eip, true);
  dv.setUint32(TRAMPOLINE_MBI, loaded.entry.ebx, true);
  mem.writeBytes(TRAMPOLINE_BASE, trampoline); // the BIOS area below 1 MiB ...
  mem.addRegion(0xffff0000, trampoline, { readonly: true }); // ... and the reset alias below 4 GiB

  let cpu: Cpu | undefined;
  const hooks = new HarnessHooks(() => cpu!);
  cpu = new Cpu(mem, model === undefined ? { hooks } : { hooks, model });
  let executed = 0;
  let note = 'budget exhausted';
  while (executed < budget && hooks.status === null) {
    const before = cpu.instructions;
    const exit = cpu.run(1_000_000);
    executed += cpu.instructions - before;
    if (exit === CpuExit.Shutdown) {
      note = 'triple fault (shutdown)';
      break;
    }
    if (exit === CpuExit.Hlt && !cpu.intr) {
      note = `halted at eip ${cpu.regs.ip.toString(16)}`;
      break;
    }
  }
  return {
    serial: hooks.serial,
    status: hooks.status,
    instructions: executed,
    note: hooks.status === null ? note : 'exited',
  };
}
