import { describe, expect, it } from 'vitest';
import { flat32, Sel, runToHlt } from '../test/machine.js';
import { CpuExit, type CpuidResult, INTERCEPT, Msr, NullHooks, Vector } from './index.js';

describe('CPUID, TSC and MSRs', () => {
  it('CPUID leaf 0 reports GenuineIntel and leaf 1 a family-6 CPU with CMOV, CX8, FXSR', () => {
    const m = flat32(
      'xor eax, eax\ncpuid\nmov [0x3000], ebx\nmov [0x3004], edx\nmov [0x3008], ecx\nmov eax, 1\ncpuid\nhlt',
    );
    runToHlt(m);
    expect(Buffer.from(m.ram.subarray(0x3000, 0x300c)).toString('latin1')).toBe('GenuineIntel');
    const eax = m.cpu.regs.u32[0]!;
    const edx = m.cpu.regs.u32[2]!;
    expect((eax >>> 8) & 0xf).toBe(6);
    expect(edx & (1 << 15)).not.toBe(0); // CMOV
    expect(edx & (1 << 8)).not.toBe(0); // CX8
    expect(edx & (1 << 24)).not.toBe(0); // FXSR
    expect(edx & (1 << 25)).toBe(0); // no SSE
  });

  it('RDTSC counts up', () => {
    const m = flat32('rdtsc\nmov esi, eax\nnop\nnop\nrdtsc\nsub eax, esi\nhlt');
    runToHlt(m);
    expect(m.cpu.regs.u32[0]).toBeGreaterThan(0);
  });

  it('WRMSR/RDMSR round-trip SYSENTER_EIP; an unknown MSR raises #GP', () => {
    const vectors: number[] = [];
    const m = flat32(
      `mov ecx, ${Msr.SYSENTER_EIP}\nmov eax, 0x12345678\nxor edx, edx\nwrmsr\nxor eax, eax\nrdmsr\nmov esi, eax\nmov ecx, 0x9999\nrdmsr\nhlt`,
      { events: { delivered: (_k, v) => vectors.push(v) } },
    );
    m.run(10);
    expect(m.cpu.regs.u32[6]).toBe(0x12345678);
    expect(vectors[0]).toBe(Vector.GP);
  });

  it('WRMSR to the TSC sets the counter RDTSC then reads', () => {
    const m = flat32(`mov ecx, ${Msr.TSC}\nmov eax, 0\nmov edx, 5\nwrmsr\nrdtsc\nhlt`);
    runToHlt(m);
    expect(m.cpu.regs.u32[2]).toBe(5);
    expect(m.cpu.regs.u32[0]).toBeLessThan(10);
  });

  it('SYSENTER enters CPL 0 flat code at SYSENTER_EIP and SYSEXIT returns to CPL 3', () => {
    const m = flat32(`
      mov ecx, ${Msr.SYSENTER_CS}
      mov eax, ${Sel.Code32}
      xor edx, edx
      wrmsr
      mov ecx, ${Msr.SYSENTER_ESP}
      mov eax, 0x7000
      wrmsr
      mov ecx, ${Msr.SYSENTER_EIP}
      mov eax, kernel
      wrmsr
      mov ecx, 0x6000
      mov edx, user
      sysexit
    user:
      mov eax, 42
      sysenter
    kernel:
      hlt`);
    runToHlt(m);
    expect(m.cpu.regs.u32[0]).toBe(42);
    expect(m.cpu.ctrl.cpl).toBe(0);
    expect(m.cpu.regs.u32[4]).toBe(0x7000);
    expect(m.cpu.segs.selector[1]).toBe(Sel.Code32);
  });

  it('an instruction of a feature the model lacks (SSE MOVAPS) raises #UD', () => {
    const vectors: number[] = [];
    const m = flat32('movaps xmm0, xmm1\nhlt', { events: { delivered: (_k, v) => vectors.push(v) } });
    m.run(1);
    expect(vectors[0]).toBe(Vector.UD);
  });
});

describe('hooks', () => {
  it('a CPUID hook can edit the answer', () => {
    class Hooks extends NullHooks {
      override cpuid(_leaf: number, _sub: number, out: CpuidResult): number {
        out.ebx = 0xcafe;
        return 0;
      }
    }
    const m = flat32('xor eax, eax\ncpuid\nhlt', { hooks: new Hooks() });
    runToHlt(m);
    expect(m.cpu.regs.u32[3]).toBe(0xcafe);
  });

  it('an intercepting hook stops the CPU before the instruction with EIP on it', () => {
    class Hooks extends NullHooks {
      override portOut(): number {
        return INTERCEPT;
      }
    }
    const m = flat32('mov al, 1\nout 0x80, al\nhlt', { hooks: new Hooks() });
    expect(m.run(10)).toBe(CpuExit.Intercept);
    expect(m.cpu.regs.ip).toBe(0x1002);
  });

  it('every exit a VMM takes often (IN, OUT, CPUID, HLT, RDTSC, RDMSR, WRMSR, INVLPG) leaves state untouched and resumes', () => {
    const programs: [string, string][] = [
      ['in', 'in al, 0x71'],
      ['out', 'out 0x80, al'],
      ['cpuid', 'cpuid'],
      ['hlt', 'hlt'],
      ['rdtsc', 'rdtsc'],
      ['rdmsr', 'rdmsr'],
      ['wrmsr', 'wrmsr'],
      ['invlpg', 'invlpg [0x5000]'],
    ];
    for (const [name, insn] of programs) {
      let taken = 0;
      class Hooks extends NullHooks {
        private take(): number {
          return taken++ === 0 ? INTERCEPT : 0; // the first time only: the VMM then lets it run
        }
        override portIn(): number {
          return this.take() === INTERCEPT ? INTERCEPT : 7;
        }
        override portOut(): number {
          return this.take();
        }
        override cpuid(): number {
          return this.take();
        }
        override hlt(): number {
          return this.take();
        }
        override rdtsc(): number {
          return this.take();
        }
        override rdmsr(): number {
          return this.take();
        }
        override wrmsr(): number {
          return this.take();
        }
        override invlpg(): number {
          return this.take();
        }
      }
      // ECX selects a known MSR (IA32_SYSENTER_CS) for RDMSR/WRMSR; ESP must come back unchanged too.
      const m = flat32(
        `mov ecx, 0x174\nmov eax, 0x11\nmov edx, 0\nmov esp, 0x7000\n${insn}\nmov ebx, 0x55\nhlt`,
        {
          hooks: new Hooks(),
        },
      );
      const regs = m.cpu.regs;
      expect(m.run(100), name).toBe(CpuExit.Intercept);
      const at = regs.ip;
      expect([regs.u32[0], regs.u32[1], regs.u32[2], regs.u32[4]], name).toEqual([0x11, 0x174, 0, 0x7000]);
      expect(regs.u32[3], name).toBe(0); // nothing after it ran
      // Single-stepping reaches the same exit at the same place (runOne, not the block loop).
      m.cpu.regs.ip = at;
      taken = 0;
      expect(m.cpu.step(), name).toBe(CpuExit.Intercept);
      expect(regs.ip, name).toBe(at);
      // Resumed with the hook letting it through, the program goes on past it.
      if (name === 'hlt') {
        expect(m.run(100)).toBe(CpuExit.Hlt);
      } else {
        runToHlt(m);
        expect(regs.u32[3], name).toBe(0x55);
      }
    }
  });

  it('port I/O reaches the hooks with port, size and value', () => {
    const seen: number[][] = [];
    class Hooks extends NullHooks {
      override portOut(port: number, size: 1 | 2 | 4, value: number): number {
        seen.push([port, size, value]);
        return 0;
      }
      override portIn(port: number, size: 1 | 2 | 4): number {
        return port + size;
      }
    }
    const m = flat32('mov dx, 0x3f8\nmov ax, 0x4142\nout dx, ax\nin eax, dx\nhlt', { hooks: new Hooks() });
    runToHlt(m);
    expect(seen).toEqual([[0x3f8, 2, 0x4142]]);
    expect(m.cpu.regs.u32[0]).toBe(0x3f8 + 4);
  });

  it('HLT returns CpuExit.Hlt and stays halted until an interrupt', () => {
    const m = flat32('hlt\nmov eax, 1\nhlt');
    expect(m.run(10)).toBe(CpuExit.Hlt);
    expect(m.run(10)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.u32[0]).toBe(0);
  });
});

describe('decoded-block cache', () => {
  it('a write into code that already ran is seen the next time it runs', () => {
    const m = flat32(`
      mov ecx, 2
    again:
      mov eax, 1
    patch:
      dec ecx
      jz done
      mov byte [again + 1], 7
      jmp again
    done:
      hlt`);
    runToHlt(m);
    expect(m.cpu.regs.u32[0]).toBe(7);
  });

  it('writes to data next to code on the same page keep the blocks', () => {
    const m = flat32('mov ecx, 1000\nl:\nmov [data], ecx\ndec ecx\njnz l\nhlt\ndata:\ndd 0');
    runToHlt(m);
    expect(m.cpu.blocks.builds).toBeLessThan(5);
  });
});
