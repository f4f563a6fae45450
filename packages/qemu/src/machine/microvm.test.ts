import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvmHost } from '@typevisor/kvm';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { MMIO_MAGIC, MmioReg } from '@typevisor/virtio';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../options/parse.js';
import { MICROVM_MMIO_BASE, MICROVM_VIRTIO_IRQS, MicrovmMachine } from './microvm.js';
import type { VirtioIo } from './virtio-devices.js';

const bzImage = new Uint8Array(
  readFileSync(
    join(dirname(fileURLToPath(import.meta.url)), '../../../../tools/images/default-i386/bzImage'),
  ),
);

function machine(args: string[], log?: (text: string) => void, clock = new ManualClock()) {
  const cmd = parseCommandLine(['-M', 'microvm', '-m', '32', ...args]);
  if (cmd.action !== 'run') throw new Error('not a run');
  const virtio: VirtioIo = {
    backends: {},
    readFile: () => new Uint8Array(8192),
    consoleOut: { write() {} },
    fail() {},
  };
  return new MicrovmMachine(
    cmd.config,
    { serialOut: new CollectingSink(), clock, virtio, ...(log ? { log } : {}) },
    new KvmHost(),
  );
}

/** A microvm with `code` at 0000:1000 (real mode), run until `done()`; a HLT advances the clock 10 ms. */
function realModeMicrovm(args: string[], code: readonly number[], extra: [number, number[]][] = []) {
  const log: string[] = [];
  const clock = new ManualClock();
  const m = machine(args, (t) => log.push(t), clock);
  m.ram.set(code, 0x1000);
  for (const [at, bytes] of extra) m.ram.set(bytes, at);
  const s = m.vcpu.getSregs();
  m.vcpu.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
  m.vcpu.setRegs({ ...m.vcpu.getRegs(), rip: 0x1000n, rsp: 0x8000n });
  const run = (done: () => boolean): void => {
    for (let i = 0; i < 10_000 && !done(); i++) {
      const action = m.runOnce();
      if (action.kind === 'wait-for-interrupt') clock.advanceNs(10e6);
      else if (action.kind !== 'continue' && action.kind !== 'inject') throw new Error(action.kind);
    }
  };
  return { m, log, run };
}

// mov eax,1; cpuid; mov [0x2000],edx; mov [0x2004],eax; mov dword [0x2008],1; hlt
const CPUID_1 = [
  0x66, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x66, 0x89, 0x16, 0x00, 0x20, 0x66, 0xa3, 0x04, 0x20, 0x66,
  0xc7, 0x06, 0x08, 0x20, 0x01, 0x00, 0x00, 0x00, 0xf4,
];
const CPUID_EDX_SSE = 1 << 25;
const CPUID_EDX_MMX = 1 << 23;
const CPUID_EDX_FXSR = 1 << 24;
// Program the master 8259 (vector base 8, only IRQ0 unmasked), read an unassigned port, then sti; hlt.
const PIT_PROGRAM = [
  0xfa, 0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0,
  0xfe, 0xe6, 0x21, 0xe4, 0x99, 0xfb, 0xf4, 0xeb, 0xfd,
];
// IVT entry 8 -> 0000:1100, where the handler sends EOI and returns.
const IVT8: [number, number[]] = [0x20, [0x00, 0x11, 0x00, 0x00]];
const HANDLER: [number, number[]] = [0x1100, [0xb0, 0x20, 0xe6, 0x20, 0xcf]];

describe('microvm machine', () => {
  it('has the reduced legacy set: 8259, PIT, RTC, COM1, no PCI and no keyboard controller', () => {
    const m = machine([]);
    const names = m.pio.list().map((r) => r.name);
    expect(names).toEqual(
      expect.arrayContaining(['pic-master', 'pic-slave', 'elcr', 'pit', 'rtc', 'serial0']),
    );
    expect(names).not.toContain('pci-conf');
    expect(names).not.toContain('i8042-cmd');
    expect(m.pio.read(0xcfc, 4)).toBe(0xffff_ffff);
  });

  it('puts virtio-mmio windows at 0xfeb00000 and describes them on the kernel command line', () => {
    const m = machine([
      '-drive',
      'file=d.img,if=none,id=d0',
      '-device',
      'virtio-blk-device,drive=d0',
      '-device',
      'virtio-rng-device',
    ]);
    expect(m.kernelCmdline).toBe(
      `virtio_mmio.device=4K@0xfeb00000:${MICROVM_VIRTIO_IRQS[0]} virtio_mmio.device=4K@0xfeb01000:${MICROVM_VIRTIO_IRQS[1]}`,
    );
    expect(m.mmio.read(MICROVM_MMIO_BASE + MmioReg.MAGIC_VALUE, 4)).toBe(MMIO_MAGIC);
    expect(m.mmio.read(MICROVM_MMIO_BASE + MmioReg.DEVICE_ID, 4)).toBe(2); // block
    expect(m.mmio.read(MICROVM_MMIO_BASE + 0x1000 + MmioReg.DEVICE_ID, 4)).toBe(4); // entropy
    const elcr = m.pio.read(0x4d0, 1) | (m.pio.read(0x4d1, 1) << 8);
    expect((elcr >> MICROVM_VIRTIO_IRQS[0]) & 1).toBe(1);
  });

  it('-cpu pentium3,-mmx: the CPUID the guest reads is the model filtered as on pc', () => {
    const g = realModeMicrovm(['-cpu', 'pentium3,-mmx'], CPUID_1);
    g.run(() => g.m.ram[0x2008] === 1);
    const dv = new DataView(g.m.ram.buffer, g.m.ram.byteOffset);
    const edx = dv.getUint32(0x2000, true);
    expect(edx & CPUID_EDX_MMX).toBe(0);
    expect(edx & CPUID_EDX_SSE).toBe(CPUID_EDX_SSE); // pentium3's SSE: the facade's CPU has it
    expect(edx & CPUID_EDX_FXSR).toBe(CPUID_EDX_FXSR); // the rest of pentium3's features stay
    expect(dv.getUint32(0x2004, true)).toBe(0x673); // family 6, model 7, stepping 3
    // pentium3 also asks for PSE-36, which the facade lacks: dropped with a warning. (PAE, which this
    // test used before, is now the facade's: its default model has IA-32e mode, whose paging is PAE.)
    expect(g.m.cpuWarnings).toContain("host doesn't support requested feature: CPUID.01H:EDX.pse36 [bit 17]");
    expect(edx & (1 << 17)).toBe(0);
    expect(edx & (1 << 6)).toBe(1 << 6);
    const plain = realModeMicrovm(['-cpu', 'pentium3'], CPUID_1);
    plain.run(() => plain.m.ram[0x2008] === 1);
    expect(new DataView(plain.m.ram.buffer).getUint32(0x2000, true) & CPUID_EDX_MMX).toBe(CPUID_EDX_MMX);
  });

  it('-d int,guest_errors,cpu_reset log on microvm as on pc', () => {
    const g = realModeMicrovm(['-d', 'int,guest_errors,cpu_reset'], PIT_PROGRAM, [IVT8, HANDLER]);
    g.run(() => g.log.filter((l) => l.startsWith('Servicing')).length >= 2);
    expect(g.log.filter((l) => l === 'Servicing hardware INT=0x08\n').length).toBe(2);
    expect(g.log).toContain("Invalid read at addr 0x99, size 1, region 'I/O', reason: unassigned\n");
    g.m.loadLinux(bzImage, undefined, 'console=ttyS0');
    expect(g.log.at(-1)).toMatch(/^CPU Reset \(CPU 0\)\nEAX=/);
  });

  it('kernel_irqchip=on: the 8259s and the PIT are in the facade, virtio-mmio IRQs level-triggered there', () => {
    const m = machine(['-M', 'microvm,kernel_irqchip=on', '-device', 'virtio-rng-device']);
    expect(m.pic).toBeNull();
    expect(m.pit).toBeNull();
    const names = m.pio.list().map((r) => r.name);
    expect(names).not.toContain('pic-master');
    expect(names).not.toContain('pit');
    expect(names).toContain('port61');
    expect((m.isa.picViews().slave.elcr << 8) | m.isa.picViews().master.elcr).toBe(
      1 << MICROVM_VIRTIO_IRQS[0],
    );
  });
});
