import { type HostClock, KvmHost } from '@typevisor/kvm';
import type { Clock } from '@typevisor/memory';
import { CollectingSink } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { Monitor } from '../monitor/hmp.js';
import { parseCommandLine } from '../options/parse.js';
import type { ExitAction } from './exit-dispatch.js';
import { pcMonitorTarget } from './monitor-target.js';
import { PC_IRQ, PcMachine } from './pc.js';
import { PCI_IRQS, pirqOf } from './pci-bus.js';
import { VcpuLoop } from './vcpu-loop.js';
import type { VirtioIo } from './virtio-devices.js';

/**
 * One clock for the VMM's devices and the facade: a halted vCPU's wait advances it, and with `tickNs`
 * every reading moves it on too (a guest that polls a timer sees time pass).
 */
class SharedTestClock implements Clock, HostClock {
  constructor(
    private ns = 1e9,
    private readonly tickNs = 0,
  ) {}
  nowNs(): number {
    return this.ns;
  }
  monotonicNs(): number {
    this.ns += this.tickNs;
    return this.ns;
  }
  realtimeNs(): bigint {
    return 1_700_000_000_000_000_000n + BigInt(this.ns);
  }
  sleepNs(ns: number): void {
    this.ns += ns;
  }
}

const virtio: VirtioIo = {
  backends: {},
  readFile: () => new Uint8Array(0),
  consoleOut: { write() {} },
  fail() {},
};

function machine(args: string[], clock = new SharedTestClock()) {
  const cmd = parseCommandLine(['-m', '16', '-vga', 'none', '-machine', 'kernel_irqchip=on', ...args]);
  if (cmd.action !== 'run') throw new Error('not a run');
  return new PcMachine(
    cmd.config,
    { serialOut: new CollectingSink(), clock, virtio },
    new KvmHost({ clock, sliceInstructions: 50_000 }),
  );
}

/** `code` at 0000:1000 in real mode; runs until `done()` (at most `steps` KVM_RUNs). */
function runRealMode(
  m: PcMachine,
  code: readonly number[],
  extra: [number, number[]][],
  done: () => boolean,
) {
  m.ram.set(code, 0x1000);
  for (const [at, bytes] of extra) m.ram.set(bytes, at);
  const s = m.vcpu.getSregs();
  m.vcpu.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
  m.vcpu.setRegs({ ...m.vcpu.getRegs(), rip: 0x1000n, rsp: 0x8000n });
  let action: ExitAction = { kind: 'continue' };
  for (let i = 0; i < 2000 && !done(); i++) {
    action = m.runOnce();
    if (action.kind !== 'continue' && action.kind !== 'inject') break;
  }
  return action;
}

describe('pc machine with -machine kernel_irqchip=on', () => {
  it('has no userspace 8259 or 8254 on the port bus; port 0x61, the RTC and COM1 stay', () => {
    const m = machine([]);
    expect(m.pic).toBeNull();
    expect(m.pit).toBeNull();
    const names = m.pio.list().map((r) => r.name);
    for (const gone of ['pic-master', 'pic-slave', 'elcr', 'pit']) expect(names).not.toContain(gone);
    for (const kept of ['port61', 'rtc', 'serial0', 'pci-conf']) expect(names).toContain(kept);
  });

  it('raises ISA lines with KVM_IRQ_LINE; info pic reads the in-kernel 8259s, info irq counts them', () => {
    const m = machine(['-device', 'virtio-rng-pci']);
    const loop = new VcpuLoop(() => m.runOnce(), { noReboot: false, noShutdown: false, reset: () => {} });
    const mon = new Monitor(
      pcMonitorTarget(m, loop, { version: '0.1.0', threadId: 1, quit: () => {}, powerdown: () => {} }),
    );
    expect(mon.execute('info irq')).toBe('IRQ statistics for kvm-i8259:');
    m.isaIrq(PC_IRQ.COM1).set(true);
    expect(m.isa.picViews().master.irr & (1 << PC_IRQ.COM1)).toBe(1 << PC_IRQ.COM1);
    expect(mon.execute('info pic').split('\n')[1]).toMatch(/^pic0: irr=10 imr=00 isr=00 /);
    // PCI INTx goes through PIIX3's routing to the in-kernel slave 8259, marked level-triggered there.
    const irq = PCI_IRQS[pirqOf(2, 1)]!;
    m.pci.functions[0]!.device.config.setIntx(true);
    expect(m.isa.picViews().slave.irr & (1 << (irq - 8))).toBe(1 << (irq - 8));
    expect(mon.execute('info irq').split('\n')).toEqual([
      'IRQ statistics for kvm-i8259:',
      ` 4: 1`,
      `${String(irq).padStart(2)}: 1`,
    ]);
    const elcr = m.isa.picViews().master.elcr | (m.isa.picViews().slave.elcr << 8);
    expect(elcr).toBe(PCI_IRQS.reduce((mask, i) => mask | (1 << i), 0));
  });

  it('a real-mode guest takes PIT interrupts from the in-kernel PIT through the in-kernel 8259', () => {
    const m = machine([]);
    // Master 8259: vector base 8, only IRQ0 unmasked; sti; hlt in a loop. The handler counts at 0x3000.
    const program = [
      0xfa, 0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21,
      0xb0, 0xfe, 0xe6, 0x21, 0xfb, 0xf4, 0xeb, 0xfd,
    ];
    const handler = [0xfe, 0x06, 0x00, 0x30, 0xb0, 0x20, 0xe6, 0x20, 0xcf]; // inc byte [0x3000]; EOI; iret
    const action = runRealMode(
      m,
      program,
      [
        [0x20, [0x00, 0x11, 0x00, 0x00]],
        [0x1100, handler],
      ],
      () => m.ram[0x3000]! >= 3,
    );
    expect(action.kind).toBe('continue');
    expect(m.ram[0x3000]).toBe(3);
    // HLT stayed in the kernel: the VMM saw no Hlt exit and injected nothing itself.
    expect(m.exitCounts.get('Hlt')).toBeUndefined();
    expect(m.irqCounts.counts[0]).toBe(0); // IRQ0 never passed through the VMM
  });

  it('port 0x61 sets counter 2 gate and reads its output from the in-kernel PIT (KVM_GET/SET_PIT2)', () => {
    const clock = new SharedTestClock(1e9, 1000);
    const m = machine([], clock);
    // Gate 2 on; counter 2 mode 0, count 100; read port 0x61 once to 0x3001; poll it until OUT2 is set.
    const program = [
      0xb0, 0x01, 0xe6, 0x61, 0xb0, 0xb0, 0xe6, 0x43, 0xb0, 0x64, 0xe6, 0x42, 0x30, 0xc0, 0xe6, 0x42, 0xe4,
      0x61, 0xa2, 0x01, 0x30, 0xe4, 0x61, 0xa8, 0x20, 0x74, 0xfa, 0xc6, 0x06, 0x00, 0x30, 0x01, 0xf4,
    ];
    runRealMode(m, program, [], () => m.ram[0x3000] === 1);
    expect(m.ram[0x3001]! & 0x21).toBe(0x01); // gate 2 high, OUT2 still low right after the count
    expect(m.ram[0x3000]).toBe(1); // then OUT2 went high once 100 PIT clocks had passed
  });
});
