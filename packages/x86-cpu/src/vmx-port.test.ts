import { describe, expect, it } from 'vitest';
import { flat32 } from '../test/machine.js';
import {
  CPUID_1_ECX_VMX,
  CR4_VMXE,
  CpuExit,
  INTERCEPT,
  NullHooks,
  PENTIUM_II,
  VmxInstruction,
  type VmxOperands,
  type VmxPort,
  currentInstructionBytes,
  withVmx,
} from './index.js';
import { MAX_DEFINED_MSRS, MsrFile } from './msr.js';

/** A VMX port that records what the CPU handed it and answers as told. */
class FakeVmx extends NullHooks implements VmxPort {
  readonly calls: { op: number; register: number; length: number; memory: number[] }[] = [];
  answer = 0;
  crValue = 0;
  readonly pointer = new Uint32Array(4);
  /** What VMREAD stores. */
  readValue = 0;
  /** What VMWRITE read from its source. */
  written = -1;
  shadow = -1;

  get vmx(): VmxPort {
    return this;
  }
  execute(op: VmxInstruction, o: VmxOperands): number {
    const memory: number[] = [];
    if (this.answer !== 0) {
      this.calls.push({ op, register: o.register, length: o.length, memory });
      return this.answer;
    }
    if (op === VmxInstruction.Vmxon || op === VmxInstruction.Vmptrld) {
      o.readMemory64(this.pointer);
      memory.push(this.pointer[0]!, this.pointer[1]!);
    }
    if (op === VmxInstruction.Invept) {
      o.readMemory128(this.pointer);
      memory.push(...this.pointer);
    }
    if (op === VmxInstruction.Vmptrst) o.writeMemory64(0x1234_5000, 0);
    if (op === VmxInstruction.Vmread) o.writeRm(this.readValue);
    if (op === VmxInstruction.Vmwrite) this.written = o.readRm();
    this.calls.push({ op, register: o.register, length: o.length, memory });
    return 0;
  }
  writeCr(_cr: 0 | 4, value: number): number {
    this.crValue = value;
    return this.answer;
  }
  readCr(_cr: 0 | 4, actual: number): number {
    return this.shadow >= 0 ? this.shadow : actual;
  }
}

describe('VMX instructions reach the attached port', () => {
  it('decodes the memory pointer, the field-encoding register and the r/m operand of each form', () => {
    const vmx = new FakeVmx();
    const m = flat32(
      `
      vmxon [0x3000]
      vmptrld [0x3000]
      mov ebx, 0x681e
      vmread [0x3100], ebx
      vmread ecx, ebx
      mov eax, 0x55
      vmwrite ebx, eax
      vmwrite ebx, [0x3200]
      vmptrst [0x3300]
      mov edx, 1
      invept edx, [0x3400]
      hlt`,
      { hooks: vmx, model: withVmx(PENTIUM_II) },
    );
    m.memory.write32(0x3000, 0x20000);
    m.memory.write32(0x3004, 0x1);
    m.memory.write32(0x3200, 0xabcd);
    for (let i = 0; i < 4; i++) m.memory.write32(0x3400 + i * 4, 0x100 + i);
    vmx.readValue = 0x8000;
    expect(m.run(100)).toBe(CpuExit.Hlt);
    const ops = vmx.calls.map((c) => c.op);
    const I = VmxInstruction;
    expect(ops).toEqual([I.Vmxon, I.Vmptrld, I.Vmread, I.Vmread, I.Vmwrite, I.Vmwrite, I.Vmptrst, I.Invept]);
    expect(vmx.calls[0]!.memory).toEqual([0x20000, 1]);
    expect(vmx.calls[2]!.register).toBe(0x681e);
    expect(m.memory.read32(0x3100)).toBe(0x8000);
    expect(m.cpu.regs.u32[1]).toBe(0x8000);
    expect(vmx.calls[5]!.register).toBe(0x681e);
    expect(vmx.written).toBe(0xabcd);
    expect(m.memory.read32(0x3300)).toBe(0x1234_5000);
    expect(vmx.calls[7]!.register).toBe(1);
    expect(vmx.calls[7]!.memory).toEqual([0x100, 0x101, 0x102, 0x103]);
    expect(vmx.calls[0]!.length).toBe(8);
  });

  it('INTERCEPT stops the CPU before the instruction; a vector is raised as a fault', () => {
    const vmx = new FakeVmx();
    vmx.answer = INTERCEPT;
    const m = flat32('nop\nvmcall\nhlt', { hooks: vmx, model: withVmx(PENTIUM_II) });
    expect(m.run(100)).toBe(CpuExit.Intercept);
    expect(m.cpu.regs.ip).toBe(0x1001);
    vmx.answer = 13;
    const vectors: number[] = [];
    const g = flat32('vmcall', {
      hooks: vmx,
      model: withVmx(PENTIUM_II),
      events: { delivered: (_k, v) => vectors.push(v) },
    });
    g.run(1);
    expect(vectors[0]).toBe(13);
  });

  it('is #UD on a model without VMX, and without a port', () => {
    for (const options of [{ hooks: new FakeVmx() }, { model: withVmx(PENTIUM_II) }]) {
      const vectors: number[] = [];
      const m = flat32('vmxoff', { ...options, events: { delivered: (_k, v) => vectors.push(v) } });
      m.run(1);
      expect(vectors[0]).toBe(6);
    }
  });

  it('lets the port own CR4.VMXE and the CR0/CR4 values software reads', () => {
    const vmx = new FakeVmx();
    const m = flat32('mov eax, 0x2010\nmov cr4, eax\nmov ebx, cr4\nhlt', {
      hooks: vmx,
      model: withVmx(PENTIUM_II),
    });
    vmx.answer = 0;
    // The fake passes the value through unchanged.
    m.run(100);
    expect(vmx.crValue).toBe(0x2010);
    expect(m.cpu.ctrl.cr4).toBe(0x2010 | CR4_VMXE);
    expect(m.cpu.regs.u32[3]).toBe(0x2010);
    vmx.shadow = 0x10;
    const n = flat32('mov ebx, cr4\nhlt', { hooks: vmx, model: withVmx(PENTIUM_II) });
    n.run(10);
    expect(n.cpu.regs.u32[3]).toBe(0x10);
  });
});

describe('withVmx', () => {
  it('reports CPUID.01H:ECX.VMX', () => {
    const m = flat32('mov eax, 1\ncpuid\nhlt', { model: withVmx(PENTIUM_II) });
    m.run(10);
    expect(m.cpu.regs.u32[1]! & CPUID_1_ECX_VMX).toBe(CPUID_1_ECX_VMX);
  });
});

describe('MsrFile.define', () => {
  it('adds an MSR with a reset value and writable bits, kept across reset', () => {
    const f = new MsrFile();
    expect(f.find(0x3a)).toBe(-1);
    const slot = f.define(0x3a, 0, 0, 0x7, 0);
    expect(f.find(0x3a)).toBe(slot);
    expect(f.write(slot, 0x5, 0)).toBe(true);
    expect(f.getLo(0x3a)).toBe(5);
    expect(f.write(slot, 0x8, 0)).toBe(false);
    f.reset();
    expect(f.getLo(0x3a)).toBe(0);
    // Redefining an added MSR replaces its row instead of taking another.
    expect(f.define(0x3a, 1, 0, 0, 0)).toBe(slot);
    expect(f.getLo(0x3a)).toBe(1);
  });

  it('refuses to redefine a built-in MSR, and more than MAX_DEFINED_MSRS rows', () => {
    const f = new MsrFile();
    expect(() => f.define(0x1b, 0, 0, 0, 0)).toThrow(RangeError);
    for (let i = 0; i < MAX_DEFINED_MSRS; i++) f.define(0x480 + i, i, 0, 0, 0);
    expect(() => f.define(0x500, 0, 0, 0, 0)).toThrow(RangeError);
  });
});

describe('currentInstructionBytes', () => {
  it('copies the bytes of the instruction at CS:startIp', () => {
    const m = flat32('out 0x80, al\nhlt');
    m.cpu.startIp = 0x1000;
    const out = new Uint8Array(3);
    expect(currentInstructionBytes(m.cpu, out)).toBe(3);
    expect([...out]).toEqual([0xe6, 0x80, 0xf4]);
  });
});
