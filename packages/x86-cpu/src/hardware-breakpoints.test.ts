/**
 * Guest-programmed debug breakpoints (SDM Vol. 3 ch. 18): guests in 32-bit protected mode set DR0..DR3
 * and DR7 themselves and a #DB handler logs DR6, the EIP and the EFLAGS image it was given.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assemble } from '@typevisor/x86-decoder';
import { CODE, flat32, type Machine, runToHlt, Sel } from '../test/machine.js';
import { CR4 } from './control.js';
import { CpuExit, EFLAGS } from './index.js';

const IDT = 0x7800;
/** The handler's log: count at LOG, the threshold after which it sets RF at LOG + 4, entries from LOG + 0x10. */
const LOG = 0x3000;
/** Where data breakpoints watch (nothing else touches this page). */
const DATA = 0x5000;
const RF = EFLAGS.RF;

/** An interrupt gate for vector `v` to `label`. */
function gate(v: number, label: string): string {
  const a = IDT + v * 8;
  return `
    mov eax, ${label}
    mov word [${a}], ax
    mov word [${a + 2}], ${Sel.Code32}
    mov word [${a + 4}], 0x8e00
    shr eax, 16
    mov word [${a + 6}], ax`;
}

/**
 * `body` after a prologue that installs the #DB (and #UD) handler; the handler logs DR6, EIP, the
 * pushed EFLAGS and DR7, clears DR6, and sets RF in the image once the count reaches the threshold.
 */
function program(body: string): string {
  return `
    ${gate(1, 'dbh')}
    ${gate(6, 'udh')}
    lidt [idtr]
    ${body}
    hlt
  dbh:
    push eax
    push ebx
    mov ebx, [${LOG}]
    shl ebx, 4
    mov eax, dr6
    mov [${LOG + 0x10}+ebx], eax
    mov eax, [esp+8]
    mov [${LOG + 0x14}+ebx], eax
    mov eax, [esp+16]
    mov [${LOG + 0x18}+ebx], eax
    mov eax, dr7
    mov [${LOG + 0x1c}+ebx], eax
    inc dword [${LOG}]
    mov eax, 0xffff0ff0
    mov dr6, eax
    mov eax, [${LOG}]
    cmp eax, [${LOG + 4}]
    jb dbh_out
    or dword [esp+16], ${RF}
  dbh_out:
    pop ebx
    pop eax
    iretd
  udh:
    mov dword [${LOG + 8}], 6
    hlt
  idtr:
    dw 0x7ff
    dd ${IDT}`;
}

interface DbEntry {
  dr6: number;
  eip: number;
  eflags: number;
  dr7: number;
}

function run(
  body: string,
  threshold = 1,
  setup?: (m: Machine) => void,
): { m: Machine; log: DbEntry[]; at: (l: string) => number } {
  const src = program(body);
  const m = flat32(src);
  m.memory.write32(LOG + 4, threshold);
  setup?.(m);
  runToHlt(m);
  const n = m.memory.read32(LOG);
  const log: DbEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e = LOG + 0x10 + i * 16;
    log.push({
      dr6: m.memory.read32(e),
      eip: m.memory.read32(e + 4),
      eflags: m.memory.read32(e + 8),
      dr7: m.memory.read32(e + 12),
    });
  }
  return { m, log, at: (l) => labelOf(src, l) };
}

/** The address of `label` in `src` (assembled at CODE with a trailing `dd label`). */
function labelOf(src: string, label: string): number {
  const b = assemble(`${src}\ndd ${label}`, { bitness: 32, origin: CODE });
  return new DataView(b.buffer, b.byteOffset, b.length).getUint32(b.length - 4, true);
}

/** DR7 bits for breakpoint n: local enable, R/W and LEN. */
const dr7 = (n: number, rw: number, len: number): number =>
  ((1 << (2 * n)) | (rw << (16 + 4 * n)) | (len << (18 + 4 * n)) | 0x400) >>> 0;
/** LEN field for a length in bytes. */
const LEN: Record<number, number> = { 1: 0, 2: 1, 4: 3 };

describe('instruction breakpoints (R/W=00)', () => {
  it('fault before the instruction with B0, EIP at it and RF clear in the image; RF lets it run once, then clears', () => {
    const { m, log, at } = run(`
      mov eax, target
      mov dr0, eax
      mov eax, ${dr7(0, 0, 0)}
      mov dr7, eax
      mov edx, 2
    again:
    target:
      inc ecx
      dec edx
      jnz again`);
    // Two passes over the breakpoint: each stops once (RF from the handler covers one instruction only).
    expect(log.map((e) => e.eip)).toEqual([at('target'), at('target')]);
    expect(log[0]!.dr6).toBe(0xffff0ff1);
    expect(log[0]!.eflags & RF).toBe(0);
    expect(m.cpu.regs.u32[1]).toBe(2);
    expect(m.cpu.eflags & RF).toBe(0);
  });

  it('without RF the instruction faults again: the handler sees the same EIP until it sets RF', () => {
    const { m, log, at } = run(
      `
      mov eax, target
      mov dr3, eax
      mov eax, ${dr7(3, 0, 0) | 0x80}
      mov dr7, eax
    target:
      inc ecx`,
      3,
    );
    expect(log.map((e) => e.eip)).toEqual([at('target'), at('target'), at('target')]);
    expect(log.every((e) => e.dr6 === 0xffff0ff8)).toBe(true);
    expect(m.cpu.regs.u32[1]).toBe(1);
  });

  it('a disabled breakpoint at the same address is reported in DR6 beside the enabled one', () => {
    const { log } = run(`
      mov eax, target
      mov dr0, eax
      mov dr1, eax
      mov eax, ${dr7(1, 0, 0)}
      mov dr7, eax
    target:
      nop`);
    expect(log.map((e) => e.dr6)).toEqual([0xffff0ff3]);
  });
});

/** One data access of `size` bytes at `addr`, as assembly (a write when `write`). */
function access(addr: number, size: number, write: boolean): string {
  const reg = size === 1 ? 'al' : size === 2 ? 'ax' : 'eax';
  const ptr = size === 1 ? 'byte' : size === 2 ? 'word' : 'dword';
  return write ? `mov ${ptr} [${addr}], ${reg}` : `mov ${reg}, ${ptr} [${addr}]`;
}

/** Runs one access under a data breakpoint (DR1, `rw`, `len` bytes at `watch`); the #DB log. */
function watched(watch: number, rw: number, len: number, addr: number, size: number, write: boolean) {
  return run(`
    mov eax, ${watch}
    mov dr1, eax
    mov eax, ${dr7(1, rw, LEN[len]!)}
    mov dr7, eax
    mov eax, 0x11223344
    ${access(addr, size, write)}
  after:
    nop`);
}

describe('data breakpoints (R/W=01 writes, 11 reads and writes)', () => {
  it.each([
    [1, DATA + 3, 1, DATA + 3],
    [2, DATA + 2, 2, DATA + 3],
    [4, DATA + 4, 4, DATA + 7],
    [4, DATA + 4, 4, DATA + 2], // a dword at DATA+2 overlaps DATA+4..7 in two bytes
    [4, DATA + 6, 1, DATA + 4], // DR1 = DATA+6 with LEN 4 watches DATA+4..7 (alignment masking)
    [2, DATA + 3, 1, DATA + 2], // LEN 2 masks DATA+3 to DATA+2
  ])(
    'a write watch of %i bytes at %s: a %i-byte write at %s traps after the instruction with B1',
    (len, watch, size, addr) => {
      const { log, at, m } = watched(watch, 1, len, addr, size, true);
      expect(log).toHaveLength(1);
      expect(log[0]!.dr6).toBe(0xffff0ff2);
      expect(log[0]!.eip).toBe(at('after'));
      // The write happened (a trap): the bytes are in memory.
      expect(m.memory.read8(addr)).toBe(0x44);
    },
  );

  it.each([
    [1, DATA + 3, 1, DATA + 4],
    [2, DATA + 2, 1, DATA + 4],
    [4, DATA + 4, 4, DATA + 8],
    [4, DATA + 4, 2, DATA + 2],
  ])('a write watch of %i bytes at %s ignores a %i-byte write at %s beside it', (len, watch, size, addr) => {
    expect(watched(watch, 1, len, addr, size, true).log).toHaveLength(0);
  });

  it('a write watch ignores reads; a read/write watch takes both', () => {
    expect(watched(DATA, 1, 4, DATA, 4, false).log).toHaveLength(0);
    const read = watched(DATA, 3, 4, DATA + 2, 2, false);
    expect(read.log.map((e) => e.dr6)).toEqual([0xffff0ff2]);
    expect(read.log[0]!.eip).toBe(read.at('after'));
    expect(watched(DATA, 3, 2, DATA + 1, 1, true).log).toHaveLength(1);
  });

  it('the stack is data too: a PUSH onto a watched slot traps', () => {
    const { log, at } = run(`
      mov esp, ${DATA + 0x100}
      mov eax, ${DATA + 0xfc}
      mov dr0, eax
      mov eax, ${dr7(0, 1, 3)}
      mov dr7, eax
      push ebx
    after:
      mov esp, 0x9000`);
    expect(log.map((e) => [e.dr6, e.eip])).toEqual([[0xffff0ff1, at('after')]]);
  });

  it('REP STOSB over a watched byte traps after that iteration, EIP at the REP while ECX remains', () => {
    const { log, at, m } = run(`
      mov eax, ${DATA + 5}
      mov dr2, eax
      mov eax, ${dr7(2, 1, 0)}
      mov dr7, eax
      mov edi, ${DATA}
      mov ecx, 16
      mov al, 0xaa
    fill:
      rep stosb`);
    expect(log.map((e) => [e.dr6, e.eip])).toEqual([[0xffff0ff4, at('fill')]]);
    expect(m.cpu.regs.u32[1]).toBe(0);
    expect(m.memory.read8(DATA + 15)).toBe(0xaa);
    expect(m.memory.read8(DATA + 16)).toBe(0);
  });

  it('property: a write/read-write watch of 1, 2 or 4 bytes traps exactly on overlapping accesses it covers', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4),
        fc.integer({ min: 0, max: 15 }),
        fc.constantFrom(1, 3),
        fc.constantFrom(1, 2, 4),
        fc.integer({ min: 0, max: 15 }),
        fc.boolean(),
        (len, wOff, rw, size, aOff, write) => {
          const start = DATA + wOff - (wOff % len);
          const overlaps = DATA + aOff <= start + len - 1 && start <= DATA + aOff + size - 1;
          const expected = overlaps && (write || rw === 3) ? 1 : 0;
          expect(watched(DATA + wOff, rw, len, DATA + aOff, size, write).log).toHaveLength(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('I/O breakpoints (R/W=10 with CR4.DE)', () => {
  const body = (de: boolean) => `
    mov eax, cr4
    ${de ? `or eax, ${CR4.DE}` : ''}
    mov cr4, eax
    mov eax, 0x80
    mov dr2, eax
    mov eax, ${dr7(2, 2, 0)}
    mov dr7, eax
    out 0x80, al
  after:
    mov dx, 0x80
    mov esi, ${DATA}
    mov ecx, 3
  outs:
    rep outsb
  done:
    out 0x81, al`;

  it('OUT to the port traps after it with B2; REP OUTSB traps after each iteration', () => {
    const { log, at } = run(body(true));
    expect(log.map((e) => [e.dr6, e.eip])).toEqual([
      [0xffff0ff4, at('after')],
      [0xffff0ff4, at('outs')],
      [0xffff0ff4, at('outs')],
      [0xffff0ff4, at('done')],
    ]);
  });

  it('without CR4.DE R/W=10 breaks on nothing', () => {
    expect(run(body(false)).log).toHaveLength(0);
  });
});

describe('general detect and DR4/DR5', () => {
  it('DR7.GD: a MOV DR faults with BD before it executes; the handler runs with GD clear', () => {
    const { log, at, m } = run(`
      mov eax, 0x12345678
      mov dr0, eax
      mov eax, ${0x2400}
      mov dr7, eax
      xor eax, eax
    access:
      mov eax, dr0`);
    expect(log).toHaveLength(1);
    expect(log[0]!.dr6).toBe(0xffff2ff0);
    expect(log[0]!.eip).toBe(at('access'));
    // A fault: RF is 1 in the image (SDM 18.3.1.1); the handler's own MOV DR ran (GD cleared on entry).
    expect(log[0]!.eflags & RF).toBe(RF);
    expect(log[0]!.dr7).toBe(0x400);
    expect(m.cpu.regs.u32[0]).toBe(0x12345678);
  });

  it('DR4/DR5 are DR6/DR7 with CR4.DE clear, and #UD with it set', () => {
    const { m } = run(`
      mov eax, ${dr7(0, 1, 0)}
      mov dr5, eax
      mov ebx, dr7
      mov ecx, dr4
      mov eax, cr4
      or eax, ${CR4.DE}
      mov cr4, eax
      mov edx, dr4`);
    expect(m.cpu.regs.u32[3]).toBe(dr7(0, 1, 0));
    expect(m.cpu.regs.u32[1]).toBe(0xffff0ff0);
    expect(m.memory.read32(LOG + 8)).toBe(6);
  });
});

describe('the unarmed hot path', () => {
  const loop = `
    mov ecx, 64
  copy:
    mov eax, [${DATA} + ecx*4]
    add eax, ecx
    mov [${DATA + 0x400} + ecx*4], eax
    dec ecx
    jnz copy`;

  it('without breakpoints accesses fill the RAM-direct TLB; a data breakpoint empties it and keeps it empty', () => {
    const plain = run(loop);
    const idx = (DATA >>> 12) & 1023;
    expect(plain.m.cpu.pager.ramRTag[idx]).not.toBe(0);
    expect(plain.m.cpu.pager.ramWTag[idx]).not.toBe(0);
    // A write watch elsewhere on the page: same results, but every access took the checking path.
    const armed = run(`
      mov eax, ${DATA + 0x800}
      mov dr0, eax
      mov eax, ${dr7(0, 1, 3)}
      mov dr7, eax
      ${loop}`);
    expect(armed.log).toHaveLength(0);
    expect(armed.m.cpu.bp.data).toBe(true);
    expect(armed.m.cpu.pager.ramRTag.every((t) => t === 0)).toBe(true);
    expect(armed.m.cpu.pager.ramWTag.every((t) => t === 0)).toBe(true);
    expect(armed.m.ram.subarray(DATA, DATA + 0x800)).toEqual(plain.m.ram.subarray(DATA, DATA + 0x800));
  });

  it('an unarmed CPU runs whole blocks: one run() over straight-line code is not instruction by instruction', () => {
    const m = flat32('nop\nnop\nnop\nnop\nhlt');
    expect(m.cpu.bp.armed).toBe(false);
    let calls = 0;
    const lookup = m.cpu.blocks.lookup.bind(m.cpu.blocks);
    m.cpu.blocks.lookup = () => {
      calls++;
      return lookup();
    };
    expect(m.run()).toBe(CpuExit.Hlt);
    expect(calls).toBe(1);
  });

  it('registers loaded between runs (a state restore) arm at the next run()', () => {
    const seen: number[] = [];
    const m = flat32('mov [0x5000], eax\nnop\nhlt', { events: { delivered: (_k, v) => seen.push(v) } });
    m.cpu.ctrl.dr[0] = DATA;
    m.cpu.ctrl.dr[7] = dr7(0, 1, 0);
    m.cpu.step();
    expect(seen[0]).toBe(1);
    expect(m.cpu.ctrl.dr[6]).toBe(0xffff0ff1);
  });
});
