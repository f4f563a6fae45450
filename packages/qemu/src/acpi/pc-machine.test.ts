// The pc machine's ACPI wiring: the PIIX4 PM block at 0x600 (ACPI 6.5 4.8.3.2: SLP_TYP + SLP_EN in
// PM1_CNT enters the sleep state; \_S5's SLP_TYP is soft-off), the APM command port 0xB2 with the
// FADT's ACPI_ENABLE value (4.8.2.1.1: OSPM writes it to SMI_CMD and polls SCI_EN), and the tables the
// `-kernel` boot places (RSDP in 0xE0000-0xFFFFF, boot_params.acpi_rsdp_addr, e820 type 3).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AcpiPmRegs } from '@typevisor/devices';
import { KvmHost } from '@typevisor/kvm';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { BOOT_PARAMS, LAYOUT } from '../loaders/linux.js';
import { nextState } from '../machine/vcpu-loop.js';
import { PcMachine } from '../machine/pc.js';
import { realModeGuest } from '../machine/real-mode-guest.js';
import { parseCommandLine } from '../options/parse.js';
import { PC_ACPI } from './pc.js';

const PM1A_CNT = PC_ACPI.PM_BASE + AcpiPmRegs.PM1_CNT_OFFSET;
const S5_SLP_EN = (AcpiPmRegs.SLP_TYP_S5 << AcpiPmRegs.SLP_TYP_SHIFT) | AcpiPmRegs.SLP_EN;

/** mov dx, port; mov ax, value; out dx, ax; hlt. */
function outw(port: number, value: number): number[] {
  return [0xba, port & 0xff, port >> 8, 0xb8, value & 0xff, value >> 8, 0xef, 0xf4];
}

describe('pc machine ACPI', () => {
  it('a guest writing SLP_TYP=S5 with SLP_EN to PM1a_CNT powers the machine off', () => {
    const g = realModeGuest([], outw(PM1A_CNT, S5_SLP_EN));
    const action = g.run(() => false, 100);
    expect(action).toEqual({ kind: 'shutdown', reason: 'guest power-off' });
    // The CLI's loop: power-off ends the VM, or pauses it with -no-shutdown.
    expect(nextState(action, { noReboot: false, noShutdown: false })).toBe('shutdown');
    expect(nextState(action, { noReboot: false, noShutdown: true })).toBe('paused-shutdown');
  });

  it('another sleep type (S3) does not power off: the guest runs on to its HLT', () => {
    const s3 = (AcpiPmRegs.SLP_TYP_S3 << AcpiPmRegs.SLP_TYP_SHIFT) | AcpiPmRegs.SLP_EN;
    const g = realModeGuest([], outw(PM1A_CNT, s3));
    let action = g.m.runOnce();
    for (let i = 0; i < 20 && action.kind !== 'wait-for-interrupt'; i++) action = g.m.runOnce();
    expect(action.kind).toBe('wait-for-interrupt');
    expect(g.m.powerOffRequested).toBe(false);
  });

  it('the FADT ACPI_ENABLE command on port 0xB2 sets SCI_EN; the PM block is PIIX4 function 00:01.3', () => {
    const g = realModeGuest([], [0xf4]);
    const m = g.m;
    expect(m.pio.read(PM1A_CNT, 2) & AcpiPmRegs.SCI_EN).toBe(0);
    m.pio.write(PC_ACPI.SMI_CMD, 1, AcpiPmRegs.ACPI_ENABLE_CMD);
    expect(m.pio.read(PM1A_CNT, 2) & AcpiPmRegs.SCI_EN).toBe(AcpiPmRegs.SCI_EN);
    const fn = m.pci.host.function(1, 3)!;
    expect(fn.configRead(0, 4)).toBe(0x7113_8086);
    expect(fn.configRead(0x40, 4) & 0xffc0).toBe(PC_ACPI.PM_BASE);
    // The guest moves the block: the registers follow PMBA.
    fn.configWrite(0x40, 4, 0xb001);
    expect(m.pio.read(0xb000 + AcpiPmRegs.PM1_CNT_OFFSET, 2) & AcpiPmRegs.SCI_EN).toBe(AcpiPmRegs.SCI_EN);
    expect(m.pio.list().some((r) => r.name === 'acpi-pm' && r.base === PC_ACPI.PM_BASE)).toBe(false);
  });

  it('-kernel places the tables: RSDP at 0xE0000, acpi_rsdp_addr, and an e820 ACPI range over them', () => {
    const cmd = parseCommandLine(['-m', '64', '-machine', 'kernel_irqchip=on']);
    if (cmd.action !== 'run') throw new Error('not a run');
    const m = new PcMachine(
      cmd.config,
      { serialOut: new CollectingSink(), clock: new ManualClock() },
      new KvmHost(),
    );
    const bzImage = readFileSync(
      join(dirname(fileURLToPath(import.meta.url)), '../../../../tools/images/default-i386/bzImage'),
    );
    expect(m.loadLinux(new Uint8Array(bzImage), undefined, 'console=ttyS0')).toBeUndefined();
    const dv = new DataView(m.ram.buffer);
    expect(Buffer.from(m.ram.subarray(0xe0000, 0xe0008)).toString('latin1')).toBe('RSD PTR ');
    expect(dv.getUint32(LAYOUT.BOOT_PARAMS + BOOT_PARAMS.ACPI_RSDP_ADDR, true)).toBe(0xe0000);
    const n = m.ram[LAYOUT.BOOT_PARAMS + BOOT_PARAMS.E820_ENTRIES]!;
    const e820 = Array.from({ length: n }, (_, i) => {
      const o = LAYOUT.BOOT_PARAMS + BOOT_PARAMS.E820_TABLE + i * 20;
      return [dv.getUint32(o, true), dv.getUint32(o + 8, true), dv.getUint32(o + 16, true)];
    });
    expect(e820).toContainEqual([PC_ACPI.TABLES_ADDR, PC_ACPI.TABLES_AREA, 3]);
    // kernel_irqchip=on: the RSDT lists the FADT and a MADT.
    const rsdt = dv.getUint32(0xe0000 + 16, true);
    const entries = (dv.getUint32(rsdt + 4, true) - 36) / 4;
    const sigs = Array.from({ length: entries }, (_, i) =>
      Buffer.from(m.ram.subarray(dv.getUint32(rsdt + 36 + 4 * i, true)).subarray(0, 4)).toString('latin1'),
    );
    expect(sigs).toEqual(['FACP', 'APIC']);
  });
});
