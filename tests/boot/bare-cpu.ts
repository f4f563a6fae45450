/**
 * A bare PC for CPU bring-up: Typevisor's CPU with the legacy devices a small Linux needs (8259 pair,
 * 8254, 16550A, RTC, port 0x61/0x92, i8042) wired directly, no VMX and no KVM. It boots a bzImage
 * with the 32-bit boot protocol through the reset-vector trampoline, with time from the instruction
 * count (deterministic). This is a test composition, not a VMM: the real machines are in
 * @typevisor/qemu and reach the CPU only through @typevisor/kvm.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Mc146818,
  PicPair,
  Pit8254,
  SystemControlPortA,
  SystemControlPortB,
  Uart16550,
} from '@typevisor/devices';
import { type Clock, GuestMemory, PioBus } from '@typevisor/memory';
import { loadLinux, pcE820 } from '@typevisor/qemu';
import { Cpu, type CpuEvents, CpuExit, type CpuHooks, type CpuModel, NullHooks } from '@typevisor/x86-cpu';
import {
  TRAMPOLINE_BASE,
  TRAMPOLINE_EAX,
  TRAMPOLINE_ENTRY,
  TRAMPOLINE_ESI,
  TRAMPOLINE_MBI,
} from '../cpu-diff/trampoline.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface BareBootOptions {
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly cmdline: string;
  readonly ramBytes?: number;
  /** Virtual nanoseconds per executed instruction (time comes from the instruction count). */
  readonly nsPerInstruction?: number;
  /** Stop when the serial output contains this. */
  readonly until?: string;
  readonly maxInstructions?: number;
  readonly onSerial?: (text: string) => void;
  /** The CPU model (default: the CPU's own default, a Pentium II); `X86_64_MODEL` for 64-bit kernels. */
  readonly model?: CpuModel;
  /** Told about every event the CPU delivers (debugging a boot: which exception, where). */
  readonly events?: CpuEvents;
  /** Called with the CPU once it exists (debugging). */
  readonly onCpu?: (cpu: Cpu) => void;
}

export interface BareBootResult {
  readonly serial: string;
  readonly instructions: number;
  readonly seconds: number;
  readonly end: 'until' | 'budget' | 'shutdown' | 'halted' | 'reset';
  readonly eip: number;
}

class BareHooks extends NullHooks implements CpuHooks {
  constructor(
    private readonly bus: PioBus,
    private readonly onReset: () => void,
  ) {
    super();
  }
  override portIn(port: number, size: 1 | 2 | 4): number {
    return this.bus.read(port, size);
  }
  override portOut(port: number, size: 1 | 2 | 4, value: number): number {
    if (port === 0x64 && (value & 0xff) === 0xfe)
      this.onReset(); // i8042 pulse reset line
    else if (port === 0xcf9 && (value & 0x04) !== 0) this.onReset();
    else this.bus.write(port, size, value);
    return 0;
  }
}

export function bootBare(opts: BareBootOptions): BareBootResult {
  const ram = opts.ramBytes ?? 128 * 2 ** 20;
  const mem = new GuestMemory();
  mem.addRegion(0, new Uint8Array(new SharedArrayBuffer(ram)));
  const loaded = loadLinux(mem, {
    kernel: opts.kernel,
    initrd: opts.initrd,
    cmdline: opts.cmdline,
    ramBytes: ram,
    e820: pcE820(ram),
  });
  if ('kind' in loaded) throw new Error(`loadLinux: ${loaded.kind}`);
  const trampoline = new Uint8Array(readFileSync(join(here, '../cpu-diff/kernels/trampoline.bin')));
  const dv = new DataView(trampoline.buffer, trampoline.byteOffset);
  dv.setUint32(TRAMPOLINE_ENTRY, loaded.entry.eip, true);
  dv.setUint32(TRAMPOLINE_MBI, 0, true);
  dv.setUint32(TRAMPOLINE_ESI, loaded.entry.esi, true);
  dv.setUint32(TRAMPOLINE_EAX, 0, true);
  mem.writeBytes(TRAMPOLINE_BASE, trampoline);
  mem.addRegion(0xffff0000, trampoline, { readonly: true });

  const nsPer = opts.nsPerInstruction ?? 5;
  let cpu: Cpu | undefined;
  const clock: Clock = { nowNs: () => (cpu === undefined ? 0 : cpu.instructions * nsPer + skippedNs) };
  let skippedNs = 0;
  let serial = '';
  const pic = new PicPair({ output: { set: (level) => cpu?.setIntr(level) } });
  const pit = new Pit8254({ clock, irq0: pic.irqLine(0) });
  const uart = new Uart16550({
    irq: pic.irqLine(4),
    output: {
      writeByte: (b) => {
        const ch = String.fromCharCode(b);
        serial += ch;
        opts.onSerial?.(ch);
      },
    },
  });
  const rtc = new Mc146818({ clock, irq: pic.irqLine(8) });
  const bus = new PioBus();
  bus.insert(0x20, 2, pic.master, 'pic-master');
  bus.insert(0xa0, 2, pic.slave, 'pic-slave');
  bus.insert(0x4d0, 2, pic.elcr, 'elcr');
  bus.insert(0x40, 4, pit, 'pit');
  bus.insert(0x61, 1, new SystemControlPortB({ timer: pit, clock }), 'port61');
  bus.insert(0x92, 1, new SystemControlPortA(), 'port92');
  bus.insert(0x70, 2, rtc, 'rtc');
  bus.insert(0x3f8, 8, uart, 'com1');
  let reset = false;
  const hooks = new BareHooks(bus, () => {
    reset = true;
    cpu?.requestStop();
  });
  cpu = new Cpu(mem, {
    hooks,
    ...(opts.model === undefined ? {} : { model: opts.model }),
    ...(opts.events === undefined ? {} : { events: opts.events }),
  });
  cpu.interruptController = pic;
  opts.onCpu?.(cpu);

  const t0 = performance.now();
  const max = opts.maxInstructions ?? 3e9;
  let end: BareBootResult['end'] = 'budget';
  while (cpu.instructions < max) {
    const exit = cpu.run(200_000);
    pit.poll();
    rtc.poll();
    if (reset) {
      end = 'reset';
      break;
    }
    if (exit === CpuExit.Shutdown) {
      end = 'shutdown';
      break;
    }
    if (exit === CpuExit.Hlt) {
      // HLT with interrupts off (a panic's `cli; hlt`): nothing can wake the CPU.
      if ((cpu.eflags & 0x200) === 0) {
        end = 'halted';
        break;
      }
      // Idle: jump virtual time to the next timer deadline.
      const deadlines = [pit.nextDeadlineNs(), rtc.nextDeadlineNs()].filter((d): d is number => d !== null);
      if (deadlines.length === 0) {
        end = 'halted';
        break;
      }
      const next = Math.min(...deadlines);
      const now = clock.nowNs();
      if (next > now) skippedNs += next - now;
      pit.poll();
      rtc.poll();
    }
    if (opts.until !== undefined && serial.includes(opts.until)) {
      end = 'until';
      break;
    }
  }
  return {
    serial,
    instructions: cpu.instructions,
    seconds: (performance.now() - t0) / 1000,
    end,
    eip: cpu.regs.ip,
  };
}
