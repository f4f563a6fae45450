import type { CpuSnapshot, SegmentSnapshot } from './snapshot.js';

/** Descriptor attribute bits in QEMU's `flags` word (target/i386/cpu.h DESC_*_MASK). */
const DESC = {
  TYPE_SHIFT: 8,
  S: 1 << 12,
  DPL_SHIFT: 13,
  P: 1 << 15,
  L: 1 << 21,
  B: 1 << 22,
  CS: 1 << 11,
  C: 1 << 10,
  R: 1 << 9,
  A: 1 << 8,
  E: 1 << 10,
  W: 1 << 9,
} as const;

const EFLAGS_BITS: readonly (readonly [number, string])[] = [
  [1 << 10, 'D'],
  [1 << 11, 'O'],
  [1 << 7, 'S'],
  [1 << 6, 'Z'],
  [1 << 4, 'A'],
  [1 << 2, 'P'],
  [1 << 0, 'C'],
];

const CR0_PE = 1;

const hex = (v: number, digits: number): string => (v < 0 ? v >>> 0 : v).toString(16).padStart(digits, '0');

const SYS_TYPES = [
  'Reserved',
  'TSS16-avl',
  'LDT',
  'TSS16-busy',
  'CallGate16',
  'TaskGate',
  'IntGate16',
  'TrapGate16',
  'Reserved',
  'TSS32-avl',
  'Reserved',
  'TSS32-busy',
  'CallGate32',
  'Reserved',
  'IntGate32',
  'TrapGate32',
];

/** One segment line, as QEMU's cpu_x86_dump_seg_cache prints it in legacy (non-long) mode. */
function segmentLine(name: string, s: SegmentSnapshot, protectedMode: boolean, longMode: boolean): string {
  let line = longMode
    ? `${name.padEnd(3)}=${hex(s.selector, 4)} ${hex(s.base, 16)} ${hex(s.limit, 8)} ${hex(s.flags, 8)}`
    : `${name.padEnd(3)}=${hex(s.selector, 4)} ${hex(s.base, 8)} ${hex(s.limit, 8)} ${hex(s.flags, 8)}`;
  if (!protectedMode || (s.flags & DESC.P) === 0) return line;
  line += ` DPL=${(s.flags >> DESC.DPL_SHIFT) & 3} `;
  if (s.flags & DESC.S) {
    if (s.flags & DESC.CS) {
      line += s.flags & DESC.L ? 'CS64' : s.flags & DESC.B ? 'CS32' : 'CS16';
      line += ` [${s.flags & DESC.C ? 'C' : '-'}${s.flags & DESC.R ? 'R' : '-'}${s.flags & DESC.A ? 'A' : '-'}]`;
    } else {
      line += s.flags & DESC.B ? 'DS  ' : 'DS16';
      line += ` [${s.flags & DESC.E ? 'E' : '-'}${s.flags & DESC.W ? 'W' : '-'}${s.flags & DESC.A ? 'A' : '-'}]`;
    }
  } else {
    line += SYS_TYPES[(s.flags >> DESC.TYPE_SHIFT) & 15];
  }
  return line;
}

const NAMES32 = ['EAX', 'ECX', 'EDX', 'EBX', 'ESP', 'EBP', 'ESI', 'EDI'];
const NAMES64 = [
  'RAX',
  'RCX',
  'RDX',
  'RBX',
  'RSP',
  'RBP',
  'RSI',
  'RDI',
  'R8',
  'R9',
  'R10',
  'R11',
  'R12',
  'R13',
  'R14',
  'R15',
];

/** `info registers`, in the layout of QEMU's x86_cpu_dump_state. */
export function formatRegisters(c: CpuSnapshot): string {
  const pm = (c.cr.cr0 & CR0_PE) !== 0;
  const flags = EFLAGS_BITS.map(([bit, ch]) => (c.rflags & bit ? ch : '-')).join('');
  const lines: string[] = [];
  const g = (i: number) => c.gprs[i] ?? 0;
  if (c.longMode) {
    const order = [0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15]; // RAX RBX RCX RDX RSI RDI RBP RSP R8..R15
    for (let i = 0; i < 16; i += 4) {
      lines.push(
        order
          .slice(i, i + 4)
          .map((r) => `${NAMES64[r]!.padEnd(3)}=${hex(g(r), 16)}`)
          .join(' '),
      );
    }
    lines.push(
      `RIP=${hex(c.rip, 16)} RFL=${hex(c.rflags, 8)} [${flags}] CPL=${c.cpl} II=0 A20=${c.a20 ? 1 : 0} SMM=0 HLT=${c.halted ? 1 : 0}`,
    );
  } else {
    const order = [0, 3, 1, 2, 6, 7, 5, 4]; // EAX EBX ECX EDX ESI EDI EBP ESP
    lines.push(
      order
        .slice(0, 4)
        .map((r) => `${NAMES32[r]}=${hex(g(r), 8)}`)
        .join(' '),
    );
    lines.push(
      order
        .slice(4)
        .map((r) => `${NAMES32[r]}=${hex(g(r), 8)}`)
        .join(' '),
    );
    lines.push(
      `EIP=${hex(c.rip, 8)} EFL=${hex(c.rflags, 8)} [${flags}] CPL=${c.cpl} II=0 A20=${c.a20 ? 1 : 0} SMM=0 HLT=${c.halted ? 1 : 0}`,
    );
  }
  const s = c.seg;
  for (const [name, seg] of [
    ['ES', s.es],
    ['CS', s.cs],
    ['SS', s.ss],
    ['DS', s.ds],
    ['FS', s.fs],
    ['GS', s.gs],
    ['LDT', s.ldt],
    ['TR', s.tr],
  ] as const) {
    lines.push(segmentLine(name, seg, pm, c.longMode));
  }
  const w = c.longMode ? 16 : 8;
  lines.push(`GDT=     ${hex(c.gdt.base, w)} ${hex(c.gdt.limit, 8)}`);
  lines.push(`IDT=     ${hex(c.idt.base, w)} ${hex(c.idt.limit, 8)}`);
  lines.push(
    `CR0=${hex(c.cr.cr0, 8)} CR2=${hex(c.cr.cr2, w)} CR3=${hex(c.cr.cr3, w)} CR4=${hex(c.cr.cr4, 8)}`,
  );
  // Debug registers are target_ulong: always 16 digits in qemu-system-x86_64.
  lines.push(`${[0, 1, 2, 3].map((i) => `DR${i}=${hex(c.dr[i] ?? 0, 16)}`).join(' ')} `);
  lines.push(`DR6=${hex(c.dr[6] ?? 0xffff0ff0, 16)} DR7=${hex(c.dr[7] ?? 0x400, 16)}`);
  lines.push(`EFER=${hex(c.efer, 16)}`);
  lines.push(
    `FCW=${hex(c.fpu.fcw, 4)} FSW=${hex(c.fpu.fsw, 4)} [ST=${(c.fpu.fsw >> 11) & 7}] FTW=${hex(c.fpu.ftw, 2)} MXCSR=${hex(c.fpu.mxcsr, 8)}`,
  );
  for (let i = 0; i < 8; i += 2) {
    lines.push(
      [i, i + 1]
        .map((r) => {
          const [lo, hi, exp] = c.fpr[r] ?? [0, 0, 0];
          return `FPR${r}=${hex(hi, 8)}${hex(lo, 8)} ${hex(exp, 4)}`;
        })
        .join(' '),
    );
  }
  const nxmm = c.longMode ? 16 : 8;
  for (let i = 0; i < nxmm; i += 2) {
    lines.push(
      [i, i + 1]
        .map((r) => {
          const [a, b, d, e] = c.xmm[r] ?? [0, 0, 0, 0];
          return `XMM${String(r).padStart(2, '0')}=${hex(e, 8)}${hex(d, 8)} ${hex(b, 8)}${hex(a, 8)}`;
        })
        .join(' '),
    );
  }
  return lines.join('\n');
}
