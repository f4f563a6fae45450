// `system_powerdown` as QEMU runs it: a press of the ACPI fixed-feature power button (PM1_STS.PWRBTN_STS,
// the SCI on IRQ 9) when the guest enabled it, nothing visible otherwise; the VMM never ends by itself.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AcpiPmRegs } from '@typevisor/devices';
import { KvmHost } from '@typevisor/kvm';
import { ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { PC_ACPI } from './acpi/index.js';
import { parseCommandLine } from './options/parse.js';
import { VirtualMachine, type VmHost } from './vm.js';

const images = join(dirname(fileURLToPath(import.meta.url)), '../../../tools/images/default-i386');
const kernelArgs = ['-m', '32', '-kernel', join(images, 'bzImage'), '-append', 'console=ttyS0', '-S'];
const PM1_STS = PC_ACPI.PM_BASE + AcpiPmRegs.PM1_STS_OFFSET;
const PM1_EN = PC_ACPI.PM_BASE + AcpiPmRegs.PM1_EN_OFFSET;

function start(args: string[]) {
  const status: number[] = [];
  let out = '';
  const h: VmHost = {
    readFile: (p) => new Uint8Array(readFileSync(p)),
    write: (d) => {
      out += typeof d === 'string' ? d : new TextDecoder().decode(d);
    },
    exit: (s) => status.push(s),
    clock: new ManualClock(),
    threadId: 1,
    defer: () => {},
    setTimer: () => {},
    kvmHost: new KvmHost(),
  };
  const cmd = parseCommandLine(args);
  if (cmd.action !== 'run') throw new Error('not a run');
  const vm = new VirtualMachine(cmd.config, h);
  vm.start();
  return { vm, status, out: () => out };
}

describe('system_powerdown', () => {
  it('on pc, before the guest enables the power button: prints nothing, changes nothing, keeps running', () => {
    const { vm, status } = start(kernelArgs);
    expect(vm.command('system_powerdown')).toBe('');
    expect(vm.machine.pio.read(PM1_STS, 2)).toBe(0);
    expect(vm.machine.irqCounts.counts[PC_ACPI.SCI_IRQ]).toBe(0);
    expect(status).toEqual([]);
    expect(vm.command('info status')).toBe('VM status: paused (prelaunch)');
  });

  it('on pc, with PWRBTN_EN set: latches PWRBTN_STS and raises the SCI (IRQ 9), the VMM keeps running', () => {
    const { vm, status } = start(kernelArgs);
    vm.machine.pio.write(PM1_EN, 2, AcpiPmRegs.PWRBTN_EN); // what Linux's ACPI button driver does
    expect(vm.command('system_powerdown')).toBe('');
    expect(vm.machine.pio.read(PM1_STS, 2)).toBe(AcpiPmRegs.PWRBTN_STS);
    expect(vm.machine.irqCounts.counts[PC_ACPI.SCI_IRQ]).toBe(1);
    expect(status).toEqual([]);
    // The guest's SCI handler acknowledges the event by writing 1 to PWRBTN_STS.
    vm.machine.pio.write(PM1_STS, 2, AcpiPmRegs.PWRBTN_STS);
    expect(vm.machine.pio.read(PM1_STS, 2)).toBe(0);
    expect(vm.command('system_powerdown')).toBe('');
    expect(vm.machine.irqCounts.counts[PC_ACPI.SCI_IRQ]).toBe(2);
    expect(status).toEqual([]);
  });

  it('through the C-a c monitor on the terminal too, with only the prompt printed', () => {
    const { vm, status, out } = start([...kernelArgs, '-nographic']);
    vm.machine.pio.write(PM1_EN, 2, AcpiPmRegs.PWRBTN_EN);
    vm.input([...'\x01csystem_powerdown\r'].map((c) => c.charCodeAt(0)));
    expect(out()).toMatch(/\(qemu\) system_powerdown\r\n\(qemu\) $/);
    expect(vm.machine.pio.read(PM1_STS, 2)).toBe(AcpiPmRegs.PWRBTN_STS);
    expect(status).toEqual([]);
  });

  it('on microvm (no ACPI): nothing happens and the VMM keeps running, as in QEMU', () => {
    const { vm, status } = start(['-M', 'microvm', ...kernelArgs]);
    expect(vm.command('system_powerdown')).toBe('');
    expect(status).toEqual([]);
    expect(vm.command('info status')).toBe('VM status: paused (prelaunch)');
  });
});
