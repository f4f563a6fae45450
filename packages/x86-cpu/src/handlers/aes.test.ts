import { createCipheriv, createDecipheriv } from 'node:crypto';
import { CODE_NAMES, CpuidFeature, codeCpuidFeatures } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { real16, runToHlt } from '../../test/machine.js';
import { firstVector, type SseMachine, sseMachine, sseRun } from '../../test/sse-machine.js';
import { applyGuestCpuid, CORE_2, CORE_2_AES, type CpuModel, Leaf1Ecx } from '../cpu-model.js';
import { HANDLERS } from '../dispatch.js';
import { CR0, CR4, Vector } from '../index.js';

/** 16-byte aligned scratch memory: the key schedule, then operands. */
const SCHED = 0x10000;
const DATA = 0x10400;
const OUT = 0x10500;

const machine = (source: string, model: CpuModel = CORE_2_AES) => sseMachine(source, model);
type X = SseMachine;

function run(source: string, setup: (x: X) => void = () => {}) {
  const x = sseRun(source, CORE_2_AES, setup, 1_000_000);
  expect(x.vectors).toEqual([]);
  return x;
}

const first = (source: string, setup: (x: X) => void = () => {}, model: CpuModel = CORE_2_AES) =>
  firstVector(source, model, setup);

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });

// ------------------------------------------------------------------ the FIPS-197 definitions, byte by byte

/** xtime and multiplication in GF(2^8) (FIPS-197 §4.2.1). */
const xtime = (b: number) => ((b << 1) ^ (b & 0x80 ? 0x1b : 0)) & 0xff;
function mul(a: number, b: number): number {
  let p = 0;
  for (let bit = 0; bit < 8; bit++, a = xtime(a)) if ((b >> bit) & 1) p ^= a;
  return p;
}
/** The multiplicative inverse as b^254 (the group of non-zero elements has order 255); 0 maps to 0. */
function inverse(b: number): number {
  let r = 1;
  for (let i = 0; i < 254; i++) r = mul(r, b);
  return b === 0 ? 0 : r;
}
/** FIPS-197 §5.1.1, equation 5.1: b'_i = b_i ^ b_(i+4) ^ b_(i+5) ^ b_(i+6) ^ b_(i+7) ^ c_i, c = 63H. */
function sbox(x: number): number {
  const b = inverse(x);
  let out = 0;
  for (let i = 0; i < 8; i++) {
    const bit = (k: number) => (b >> (k % 8)) & 1;
    out |= (bit(i) ^ bit(i + 4) ^ bit(i + 5) ^ bit(i + 6) ^ bit(i + 7) ^ ((0x63 >> i) & 1)) << i;
  }
  return out;
}
const S = range(256).map(sbox);
const INV_S = range(256).map((y) => S.indexOf(y));

/** The state: s[r][c] is byte r + 4c of the register (FIPS-197 §3.4). */
type State = number[][];
const toState = (b: Uint8Array | readonly number[]): State =>
  range(4).map((r) => range(4).map((c) => b[r + 4 * c]!));
const fromState = (s: State): number[] => range(16).map((i) => s[i % 4]![Math.floor(i / 4)]!);
const subBytes = (s: State, box: readonly number[]): State => s.map((row) => row.map((v) => box[v]!));
/** ShiftRows: row r rotates left by r (§5.1.2); InvShiftRows right by r (§5.3.1). */
const shiftRows = (s: State, dir: 1 | -1): State =>
  s.map((row, r) => range(4).map((c) => row[(c + dir * r + 4) % 4]!));
/** MixColumns (§5.1.3) and InvMixColumns (§5.3.3): each column times a fixed circulant matrix. */
function mixColumns(s: State, m: readonly number[]): State {
  const out = toState(new Uint8Array(16));
  for (let c = 0; c < 4; c++)
    for (let r = 0; r < 4; r++)
      out[r]![c] = range(4).reduce((acc, k) => acc ^ mul(m[(k - r + 4) % 4]!, s[k]![c]!), 0);
  return out;
}
const MIX = [2, 3, 1, 1];
const INV_MIX = [0x0e, 0x0b, 0x0d, 0x09];
const xor = (a: readonly number[], b: Uint8Array | readonly number[]) => a.map((v, i) => v ^ b[i]!);

/** The SDM's Operation sections on the FIPS-197 steps. */
const REF: Record<string, (a: Uint8Array, b: Uint8Array) => number[]> = {
  aesenc: (a, k) => xor(fromState(mixColumns(subBytes(shiftRows(toState(a), 1), S), MIX)), k),
  aesenclast: (a, k) => xor(fromState(subBytes(shiftRows(toState(a), 1), S)), k),
  aesdec: (a, k) => xor(fromState(mixColumns(subBytes(shiftRows(toState(a), -1), INV_S), INV_MIX)), k),
  aesdeclast: (a, k) => xor(fromState(subBytes(shiftRows(toState(a), -1), INV_S)), k),
};

/** AESKEYGENASSIST: SubWord and RotWord ([a0,a1,a2,a3] -> [a1,a2,a3,a0], FIPS-197 §5.2) on X1 and X3. */
function keygenReference(src: Uint8Array, rcon: number): number[] {
  const word = (i: number) => Array.from(src.subarray(4 * i, 4 * i + 4));
  const sub = (w: number[]) => w.map((v) => S[v]!);
  const rot = (w: number[]) => [w[1]!, w[2]!, w[3]!, w[0]!];
  const withRcon = (w: number[]) => [w[0]! ^ rcon, w[1]!, w[2]!, w[3]!];
  const x1 = sub(word(1));
  const x3 = sub(word(3));
  return [...x1, ...withRcon(rot(x1)), ...x3, ...withRcon(rot(x3))];
}

/** Carry-less multiplication of two 64-bit values, as the polynomial product over GF(2). */
function clmul(a: bigint, b: bigint): bigint {
  let r = 0n;
  for (let i = 0n; i < 64n; i++) if ((b >> i) & 1n) r ^= a << i;
  return r;
}
const qword = (b: Uint8Array, q: number) => new DataView(b.buffer, b.byteOffset).getBigUint64(8 * q, true);

describe('the test reference', () => {
  it('has the S-box of FIPS-197 Figure 7 and InvMixColumns undoes MixColumns', () => {
    expect([S[0x00], S[0x01], S[0x53], S[0xff], INV_S[0x63], INV_S[0xed]]).toEqual([
      0x63, 0x7c, 0xed, 0x16, 0x00, 0x53,
    ]);
    const s = toState(range(16));
    expect(fromState(mixColumns(mixColumns(s, MIX), INV_MIX))).toEqual(range(16));
  });
});

// ------------------------------------------------------------------ whole ciphers in guest code

const RCON = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36];

/**
 * FIPS-197 §5.2 key expansion in guest code, word by word: AESKEYGENASSIST on a register holding
 * w[i-1] in every dword gives RotWord(SubWord(w)) ^ Rcon in dword 1 and SubWord(w) in dword 0.
 */
function keyExpansion(nk: number): string {
  const nr = nk + 6;
  const lines: string[] = [];
  for (let i = nk; i < 4 * (nr + 1); i++) {
    lines.push(`mov eax, [${SCHED + 4 * (i - 1)}]`);
    if (i % nk === 0 || (nk > 6 && i % nk === 4)) {
      const rotated = i % nk === 0;
      lines.push(
        'movd xmm1, eax',
        'pshufd xmm1, xmm1, 0',
        `aeskeygenassist xmm2, xmm1, ${rotated ? RCON[i / nk - 1] : 0}`,
        ...(rotated ? ['pshufd xmm2, xmm2, 0x55'] : []),
        'movd eax, xmm2',
      );
    }
    lines.push(`xor eax, [${SCHED + 4 * (i - nk)}]`, `mov [${SCHED + 4 * i}], eax`);
  }
  return lines.join('\n');
}

const rk = (r: number) => `[${SCHED + 16 * r}]`;

/** Decrypts XMM0 with the schedule at SCHED (the equivalent inverse cipher, FIPS-197 §5.3.5) into [OUT + 16]. */
function decrypt(nr: number): string {
  return [
    `pxor xmm0, ${rk(nr)}`,
    // Round keys Nr-1 .. 1 go through InvMixColumns first.
    ...range(nr - 1).flatMap((i) => [`aesimc xmm1, ${rk(nr - 1 - i)}`, 'aesdec xmm0, xmm1']),
    `aesdeclast xmm0, ${rk(0)}`,
    `movdqa [${OUT + 16}], xmm0`,
  ].join('\n');
}

/** Encrypts [DATA] into [OUT] with the schedule at SCHED, then decrypts the result into [OUT + 16]. */
function cipher(nr: number): string {
  return [
    `movdqa xmm0, [${DATA}]`,
    `pxor xmm0, ${rk(0)}`,
    ...range(nr - 1).map((r) => `aesenc xmm0, ${rk(r + 1)}`),
    `aesenclast xmm0, ${rk(nr)}`,
    `movdqa [${OUT}], xmm0`,
    decrypt(nr),
  ].join('\n');
}

function aes(key: Uint8Array, block: Uint8Array): { ct: number[]; pt: number[]; schedule: Uint8Array } {
  const nk = key.length / 4;
  const x = run(`${keyExpansion(nk)}\n${cipher(nk + 6)}`, (x) => {
    x.m.ram.set(key, SCHED);
    x.m.ram.set(block, DATA);
  });
  return {
    ct: Array.from(x.m.ram.subarray(OUT, OUT + 16)),
    pt: Array.from(x.m.ram.subarray(OUT + 16, OUT + 32)),
    schedule: x.m.ram.slice(SCHED, SCHED + 16 * (nk + 7)),
  };
}

describe('AES-NI: whole ciphers', () => {
  const plaintext = hex('00112233445566778899aabbccddeeff');
  const key = (n: number) => Uint8Array.from(range(n));

  it('FIPS-197 Appendix C.1 (AES-128): AESKEYGENASSIST key expansion, AESENC/AESENCLAST, AESIMC/AESDEC/AESDECLAST', () => {
    const r = aes(key(16), plaintext);
    expect(Buffer.from(r.ct).toString('hex')).toBe('69c4e0d86a7b0430d8cdb78070b4c55a');
    expect(r.pt).toEqual(Array.from(plaintext));
  });

  it('FIPS-197 Appendix C.2 (AES-192)', () => {
    const r = aes(key(24), plaintext);
    expect(Buffer.from(r.ct).toString('hex')).toBe('dda97ca4864cdfe06eaf70a0ec0d7191');
    expect(r.pt).toEqual(Array.from(plaintext));
  });

  it('FIPS-197 Appendix C.3 (AES-256), and the last AES-128 round key word of Appendix A.1', () => {
    const r = aes(key(32), plaintext);
    expect(Buffer.from(r.ct).toString('hex')).toBe('8ea2b7ca516745bfeafc49904b496089');
    expect(r.pt).toEqual(Array.from(plaintext));
    // FIPS-197 A.1: the AES-128 schedule of 2b7e1516... ends with w[43] = b6630ca6.
    const a1 = aes(hex('2b7e151628aed2a6abf7158809cf4f3c'), plaintext).schedule;
    expect(Buffer.from(a1.subarray(172, 176)).toString('hex')).toBe('b6630ca6');
  });

  it("property: 10-round AES-128 in guest code equals Node's aes-128-ecb, both directions", () => {
    fc.assert(
      fc.property(bytes16, bytes16, (key, block) => {
        const r = aes(key, block);
        const enc = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
        const want = Buffer.concat([enc.update(block), enc.final()]);
        expect(r.ct).toEqual(Array.from(want));
        expect(r.pt).toEqual(Array.from(block));
        // Decrypting an arbitrary block (not one the guest encrypted) agrees with Node's decipher.
        const x = run(decrypt(10), (x) => {
          x.m.ram.set(r.schedule, SCHED);
          x.sse.u8.set(block, 0);
        });
        const dec = createDecipheriv('aes-128-ecb', key, null).setAutoPadding(false);
        const plain = Buffer.concat([dec.update(block), dec.final()]);
        expect(Array.from(x.m.ram.subarray(OUT + 16, OUT + 32))).toEqual(Array.from(plain));
      }),
      { numRuns: 40 },
    );
  });
});

// ------------------------------------------------------------------ single instructions

describe('AES-NI and PCLMULQDQ: single instructions', () => {
  it('every Code the decoder tags AES or PCLMULQDQ has a handler, except the VEX (AVX/VAES) forms', () => {
    const names: string[] = [];
    for (let c = 0; c < HANDLERS.length; c++) {
      const [f1] = codeCpuidFeatures(c);
      if (f1 !== CpuidFeature.AES && f1 !== CpuidFeature.PCLMULQDQ) continue;
      const name = CODE_NAMES[c]!;
      if (name.startsWith('VEX_') || name.startsWith('EVEX_')) continue;
      expect(HANDLERS[c], name).toBeDefined();
      names.push(name);
    }
    expect(names.length).toBe(7);
  });

  it('property: AESENC, AESENCLAST, AESDEC, AESDECLAST (register and m128 key) equal the FIPS-197 steps', () => {
    const mns = Object.keys(REF);
    fc.assert(
      fc.property(bytes16, bytes16, fc.boolean(), (state, key, mem) => {
        // One instruction per destination XMM0-XMM3, each holding the same state; the key in XMM5 or memory.
        const x = run(mns.map((mn, d) => `${mn} xmm${d}, ${mem ? `[${DATA}]` : 'xmm5'}`).join('\n'), (x) => {
          for (const d of range(4)) x.sse.u8.set(state, 16 * d);
          x.sse.u8.set(key, 80);
          x.m.ram.set(key, DATA);
        });
        for (const [d, mn] of mns.entries())
          expect(Array.from(x.sse.u8.subarray(16 * d, 16 * d + 16)), mn).toEqual(REF[mn]!(state, key));
        // The source is untouched.
        expect(Array.from(x.sse.u8.subarray(80, 96))).toEqual(Array.from(key));
      }),
      { numRuns: 150 },
    );
  });

  it('property: AESIMC is InvMixColumns of the source (register and m128), the destination only written', () => {
    fc.assert(
      fc.property(bytes16, bytes16, fc.boolean(), (src, old, mem) => {
        const x = run(mem ? `aesimc xmm7, [${DATA}]` : 'aesimc xmm7, xmm2', (x) => {
          x.sse.u8.set(old, 112);
          x.sse.u8.set(src, 32);
          x.m.ram.set(src, DATA);
        });
        expect(Array.from(x.sse.u8.subarray(112, 128))).toEqual(fromState(mixColumns(toState(src), INV_MIX)));
      }),
      { numRuns: 150 },
    );
  });

  it('property: AESKEYGENASSIST for every imm8 (register and m128)', () => {
    fc.assert(
      fc.property(bytes16, fc.integer({ min: 0, max: 255 }), fc.boolean(), (src, imm, mem) => {
        const x = run(
          mem ? `aeskeygenassist xmm1, [${DATA}], ${imm}` : `aeskeygenassist xmm1, xmm6, ${imm}`,
          (x) => {
            x.sse.u8.set(src, 96);
            x.m.ram.set(src, DATA);
          },
        );
        expect(Array.from(x.sse.u8.subarray(16, 32))).toEqual(keygenReference(src, imm));
      }),
      { numRuns: 150 },
    );
  });

  it('property: PCLMULQDQ for the four quadword selectors (and ignored imm8 bits) equals a BigInt carry-less multiply', () => {
    const edge = fc.oneof(
      bytes16,
      fc.constantFrom(
        new Uint8Array(16).fill(0xff),
        new Uint8Array(16),
        Uint8Array.from(range(16), (i) => (i % 8 === 7 ? 0x80 : 0)),
      ),
    );
    fc.assert(
      fc.property(edge, edge, fc.integer({ min: 0, max: 255 }), fc.boolean(), (a, b, noise, mem) => {
        // Selector k (imm8 bits 0 and 4, other bits random) into XMM k, each holding a; b in XMM4 or memory.
        const sels = [0x00, 0x01, 0x10, 0x11];
        const imms = sels.map((sel) => sel | (noise & 0xee));
        const src = mem ? `[${DATA}]` : 'xmm4';
        const x = run(imms.map((imm, d) => `pclmulqdq xmm${d}, ${src}, ${imm}`).join('\n'), (x) => {
          for (const d of range(4)) x.sse.u8.set(a, 16 * d);
          x.sse.u8.set(b, 64);
          x.m.ram.set(b, DATA);
        });
        for (const [d, sel] of sels.entries()) {
          const want = clmul(qword(a, sel & 1), qword(b, (sel >> 4) & 1));
          const got = qword(x.sse.u8, 2 * d) | (qword(x.sse.u8, 2 * d + 1) << 64n);
          expect(got, `imm ${imms[d]}`).toBe(want);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('known answers: PCLMULQDQ of x^63 by x^63 is x^126, the same register as both sources works', () => {
    const x = run('pclmulqdq xmm0, xmm0, 0x11\nmovdqa xmm1, xmm3\naesenc xmm3, xmm3', (x) => {
      x.sse.u32.set([0, 0, 0, 0x80000000]);
      x.sse.u8.set(range(16), 48);
    });
    expect(Array.from(x.sse.u32.subarray(0, 4))).toEqual([0, 0, 0, 0x40000000]);
    const s = Uint8Array.from(range(16));
    expect(Array.from(x.sse.u8.subarray(48, 64))).toEqual(REF.aesenc!(s, s));
  });

  it('runs in real mode with 16-bit addressing', () => {
    const m = real16(`mov bx, ${0x2000}\naesenc xmm0, [bx]\npclmulqdq xmm1, [bx + 16], 1\nhlt`, {
      model: CORE_2_AES,
    });
    m.cpu.setControlRegisters(CR0.ET, 0, CR4.OSFXSR);
    const state = Uint8Array.from(range(16), (i) => i * 7);
    const key = Uint8Array.from(range(16), (i) => 0xa0 ^ i);
    m.cpu.fpu.sse.u8.set(state, 0);
    m.cpu.fpu.sse.u32.set([3, 0, 0x1234, 0], 4);
    m.ram.set(key, 0x2000);
    m.memory.write32(0x2010, 7);
    runToHlt(m);
    expect(Array.from(m.cpu.fpu.sse.u8.subarray(0, 16))).toEqual(REF.aesenc!(state, key));
    // clmul(0x1234, 7) = 0x1234 ^ 0x2468 ^ 0x48d0
    expect(Array.from(m.cpu.fpu.sse.u32.subarray(4, 8))).toEqual([0x1234 ^ 0x2468 ^ 0x48d0, 0, 0, 0]);
  });
});

// ------------------------------------------------------------------ faults and CPUID

const ALL = [
  'aesenc xmm0, xmm1',
  'aesenclast xmm0, xmm1',
  'aesdec xmm0, xmm1',
  'aesdeclast xmm0, xmm1',
  'aesimc xmm0, xmm1',
  'aeskeygenassist xmm0, xmm1, 1',
  'pclmulqdq xmm0, xmm1, 0',
];

describe('AES-NI and PCLMULQDQ: faults and CPUID', () => {
  const ecx = CORE_2_AES.cpuid.find((l) => l.leaf === 1)!.ecx;
  const guestCpuid = (leaf1Ecx: number) => (x: X) =>
    applyGuestCpuid(x.m.cpu.features, CORE_2_AES, leaf1Ecx, 0xffffffff);

  it('CORE_2 (as a real Core 2) has neither; CORE_2_AES reports both and CPUID shows them', () => {
    const core2 = CORE_2.cpuid.find((l) => l.leaf === 1)!.ecx;
    expect(core2 & (Leaf1Ecx.AES | Leaf1Ecx.PCLMULQDQ)).toBe(0);
    expect(ecx & (Leaf1Ecx.AES | Leaf1Ecx.PCLMULQDQ)).toBe(Leaf1Ecx.AES | Leaf1Ecx.PCLMULQDQ);
    expect(ecx & ~(Leaf1Ecx.AES | Leaf1Ecx.PCLMULQDQ)).toBe(core2);
    const x = run('mov eax, 1\ncpuid');
    expect(x.m.cpu.regs.u32[1]! & (Leaf1Ecx.AES | Leaf1Ecx.PCLMULQDQ)).toBe(
      Leaf1Ecx.AES | Leaf1Ecx.PCLMULQDQ,
    );
  });

  it('#UD on CORE_2 and when the guest CPUID clears the instruction’s bit; runs with it', () => {
    for (const ins of ALL) {
      const pcl = ins.startsWith('pclmul');
      expect(
        first(ins, () => {}, CORE_2),
        ins,
      ).toBe(Vector.UD);
      expect(first(ins), ins).toBeUndefined();
      expect(first(ins, guestCpuid(ecx & ~Leaf1Ecx.AES)), ins).toBe(pcl ? undefined : Vector.UD);
      expect(first(ins, guestCpuid(ecx & ~Leaf1Ecx.PCLMULQDQ)), ins).toBe(pcl ? Vector.UD : undefined);
    }
  });

  it('#UD with CR0.EM or CR4.OSFXSR clear, #NM with CR0.TS (SSE rules)', () => {
    for (const ins of ALL) {
      const cr = (cr0: number, cr4: number) => (x: X) => x.m.cpu.setControlRegisters(cr0, 0, cr4);
      expect(first(ins, cr(CR0.PE | CR0.ET | CR0.EM, CR4.OSFXSR)), ins).toBe(Vector.UD);
      expect(first(ins, cr(CR0.PE | CR0.ET, 0)), ins).toBe(Vector.UD);
      expect(first(ins, cr(CR0.PE | CR0.ET | CR0.TS, CR4.OSFXSR)), ins).toBe(Vector.NM);
    }
  });

  it('#GP(0) on an m128 operand that is not 16-byte aligned; the destination is unchanged', () => {
    for (const ins of ALL) {
      const [mn, rest] = ins.split(' xmm0, xmm1');
      for (const off of [1, 4, 8, 15]) {
        const x = machine(`${mn} xmm0, [${DATA + off}]${rest}`);
        x.sse.u32.set([1, 2, 3, 4]);
        x.m.run(1);
        expect(x.vectors[0], `${ins} +${off}`).toBe(Vector.GP);
        expect(Array.from(x.sse.u32.subarray(0, 4))).toEqual([1, 2, 3, 4]);
      }
      expect(first(`${mn} xmm0, [${DATA}]${rest}`), ins).toBeUndefined();
    }
  });
});
