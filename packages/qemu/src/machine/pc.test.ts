import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvmHost } from '@typevisor/kvm';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../options/parse.js';
import { PC_PORTS, PcMachine } from './pc.js';

const bzImage = new Uint8Array(
  readFileSync(
    join(dirname(fileURLToPath(import.meta.url)), '../../../../tools/images/default-i386/bzImage'),
  ),
);

function machine(args: string[] = ['-m', '64']) {
  const cmd = parseCommandLine(args);
  if (cmd.action !== 'run') throw new Error('not a run');
  const serial = new CollectingSink();
  const m = new PcMachine(cmd.config, { serialOut: serial, clock: new ManualClock() }, new KvmHost());
  return { m, serial };
}

describe('pc machine', () => {
  it('maps guest RAM into memory slot 0 through the KVM facade', () => {
    const { m } = machine(['-m', '32']);
    expect(m.ram.length).toBe(32 * 2 ** 20);
    expect(m.ram.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('claims a local APIC in the guest CPUID only with kernel_irqchip=on (off: this VMM has no LAPIC)', () => {
    const leaf1 = (args: string[]) =>
      machine(args)
        .m.vcpu.getCpuid2()
        .find((e) => e.function === 1)!;
    expect(leaf1(['-m', '32']).edx & (1 << 9)).toBe(0);
    expect(leaf1(['-m', '32', '-machine', 'kernel_irqchip=on']).edx & (1 << 9)).toBe(1 << 9);
  });

  it('wires the legacy devices at their PC ports', () => {
    const { m, serial } = machine();
    const names = m.pio.list().map((r) => `${r.name}@${r.base.toString(16)}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'pic-master@20',
        'pic-slave@a0',
        'pit@40',
        'port61@61',
        'rtc@70',
        'serial0@3f8',
        'i8042-data@60',
      ]),
    );
    m.pio.write(PC_PORTS.COM1, 1, 0x4f); // THR
    m.pio.write(PC_PORTS.COM1, 1, 0x4b);
    expect(serial.text()).toBe('OK');
  });

  it('tells the guest its memory size through the CMOS, as SeaBIOS and Linux read it', () => {
    const { m } = machine(['-m', '64']);
    m.pio.write(PC_PORTS.RTC, 1, 0x30); // extended memory in KiB above 1 MiB, low byte
    const lo = m.pio.read(PC_PORTS.RTC + 1, 1);
    m.pio.write(PC_PORTS.RTC, 1, 0x31);
    const hi = m.pio.read(PC_PORTS.RTC + 1, 1);
    expect(lo | (hi << 8)).toBe(63 * 1024);
  });

  it('loads a bzImage and sets the vCPU to the 32-bit boot protocol entry with KVM_SET_SREGS/REGS', () => {
    const { m } = machine();
    expect(m.loadLinux(bzImage, undefined, 'console=ttyS0')).toBeUndefined();
    const regs = m.vcpu.getRegs();
    expect(regs.rip).toBe(0x100000n);
    expect(regs.rsi).toBe(0x7000n);
    expect(regs.rflags).toBe(2n);
    const s = m.vcpu.getSregs();
    expect(s.cr0 & 1n).toBe(1n);
    expect([s.cs.selector, s.cs.db, s.cs.limit, s.ds.selector]).toEqual([0x10, 1, 0xffffffff, 0x18]);
    expect(new DataView(m.ram.buffer).getUint32(0x7000 + 0x202, true)).toBe(0x53726448); // boot_params.hdr
  });

  it('names why a kernel cannot be loaded', () => {
    const { m } = machine();
    expect(m.loadLinux(new Uint8Array(4096), undefined, '')).toBe(
      'not a Linux bzImage: no 0xAA55 boot flag at 0x1fe',
    );
  });

  it('gives the vCPU the facade supported CPUID with KVM_SET_CPUID2, as QEMU does under KVM', () => {
    const { m } = machine();
    const leaf1 = m.vcpu.getCpuid2().find((e) => e.function === 1);
    expect(leaf1).toBeDefined();
    expect(leaf1!.edx & 1).toBe(1); // FPU
    expect((leaf1!.eax >>> 8) & 0xf).toBe(6); // family 6
  });

  it('resets on the keyboard controller reset command', () => {
    const { m } = machine();
    m.pio.write(PC_PORTS.I8042_CMD, 1, 0xfe);
    expect(m.resetRequested).toBe(true);
  });
});
