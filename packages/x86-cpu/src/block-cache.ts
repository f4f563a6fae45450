/**
 * The decoded-block cache. A block is a run of decoded instructions starting at one physical address;
 * it ends at a control transfer (`Instruction.endsBlock`; it goes on past one conditional branch, see
 * {@link CONDITIONAL_NEAR}), at a page boundary, or after
 * {@link MAX_BLOCK} instructions. Blocks live in a 2-way set-associative table keyed by physical address
 * (8,192 sets; a miss replaces the way used least recently) and are checked against the CS base, EIP and
 * code size they were decoded with. The size is the working set of a Linux boot: the default guest's
 * kernel runs about 37,000 distinct blocks; the direct-mapped 4,096-entry table before rebuilt 950,000
 * blocks in that boot (decoding was 12% of its time), this one 100,000, for about 20 MB more of decoded
 * instructions (a 65,536-entry direct-mapped table: the same rebuilds and 70 MB more). A write to a page that holds
 * decoded code drops every block on that page (self-modifying code, loaders, the 286 test harness).
 *
 * Each slot keeps its block's operand records (`operand-record.ts`, what the interpreter's loop and the
 * fast handlers read) in an array of its own, and decoded `Instruction` objects only for the
 * instructions whose handler reads them ({@link RECORD_ONLY} in place of the others); both are reused
 * from build to build, so the steady state allocates next to nothing.
 */
import { Code, DecodeError, decodeInto, Instruction, MAX_INSTRUCTION_LENGTH } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from './cpu.js';
import { HANDLERS } from './dispatch.js';
import { FAST32, fastHandler } from './fast-paths.js';
import { FAST32_COLD } from './fast-paths-cold.js';
import { fastHandler64 } from './fast-paths64.js';
import { type CompiledBlock, compileBlock, HOT_RUNS, jumpConditions } from './compiler.js';
import { compileBlock64 } from './compiler64.js';
import { highHalf } from './address-halves.js';
import { raise, Vector } from './exceptions.js';
import { segmentFault } from './memory-access.js';
import { nextEip, OPS_STRIDE, Rec, writeRecord } from './operand-record.js';
import { AccessKind } from './paging.js';
import type { PhysicalMemory } from './physical.js';
import { Seg } from './registers.js';
import { Access } from './segments.js';

/**
 * What an encoding means on a CPU without the feature that redefined it: TZCNT and LZCNT are BSF and
 * BSR with an F3 prefix, which older processors ignore (SDM TZCNT/LZCNT: "on processors that do not
 * support ... the instruction is executed as BSF/BSR"). Linux relies on it: its __ffs() is `rep; bsf`.
 */
const LEGACY_MEANING: (Handler | undefined)[] = [];
for (const size of [16, 32, 64] as const) {
  const pairs = [
    [`Tzcnt_r${size}_rm${size}`, `Bsf_r${size}_rm${size}`],
    [`Lzcnt_r${size}_rm${size}`, `Bsr_r${size}_rm${size}`],
  ] as const;
  for (const [modern, legacy] of pairs) {
    const from = (Code as Record<string, number>)[modern];
    const to = (Code as Record<string, number>)[legacy];
    if (from !== undefined && to !== undefined) LEGACY_MEANING[from] = HANDLERS[to];
  }
}

/**
 * CET's ENDBR32/ENDBR64 and RDSSPD/RDSSPQ are encodings in the reserved-NOP space (0F 1E): a processor
 * without CET executes them as NOPs (RDSSP leaves its register unchanged), which is what lets the
 * same binaries run on older CPUs. Debian's amd64 userland begins its functions with ENDBR64.
 */
const HINT_NOP: Handler = () => {};
for (const name of ['Endbr32', 'Endbr64', 'Rdsspd_r32', 'Rdsspq_r64']) {
  const code = (Code as Record<string, number>)[name];
  if (code !== undefined) LEGACY_MEANING[code] = HINT_NOP;
}

/**
 * 0F 0D /0-/7 (AMD's PREFETCH/PREFETCHW, CPUID.80000001H:ECX.PRFCHW on Intel since Broadwell; /2 is
 * PREFETCHWT1) are
 * cache hints that never fault; processors without the feature bit execute them as NOPs too, as QEMU
 * TCG and KVM's emulator do. Linux issues PREFETCHW on any CPU whose vendor is AMD and that has long
 * mode (QEMU's `qemu64` says AuthenticAMD), whatever the PRFCHW bit says.
 */
for (const name of [
  'Prefetch_m8',
  'Prefetchw_m8',
  'Prefetchwt1_m8',
  'Prefetchreserved3_m8',
  'Prefetchreserved4_m8',
  'Prefetchreserved5_m8',
  'Prefetchreserved6_m8',
  'Prefetchreserved7_m8',
]) {
  const code = (Code as Record<string, number>)[name];
  if (code !== undefined) LEGACY_MEANING[code] = HINT_NOP;
}

/**
 * The conditional near branches with a 32- or 64-bit operand size (Jcc rel8/rel32): a block goes on
 * past {@link MID_BRANCHES} of them with the instruction after (the path not taken), and leaves in the
 * middle when one is taken (`Cpu.chain` stops at an EIP other than the next instruction's; the
 * compiling tier writes the exit). Blocks end at every other control transfer, at these in 16-bit
 * code, and at one back to the block's own start (a self-loop, which the compiling tier runs in place).
 */
const CONDITIONAL_NEAR = new Set<number>();
for (const [code, cc] of jumpConditions(['rel8_32', 'rel32_32', 'rel8_64', 'rel32_64']))
  if (cc >= 0) CONDITIONAL_NEAR.add(code);

export const MAX_BLOCK = 32;
/**
 * Conditional branches a block goes on past. Debian 686 boot, two builds at once on the 2-core machine
 * (GUEST-DONE, peak RSS): none 83.6 s / 300 MiB against one 77.5 s / 308 MiB; one and two the same
 * time; no bound 85.0 s / 367 MiB against one 84.8 s / 340 MiB (the instructions after a branch are
 * decoded again in the block its target starts, and compiled functions grow).
 */
const MID_BRANCHES = 1;
/** Bound of the spare pool of decoded-instruction objects (see `BlockCache.trim`). */
const MAX_SPARE = 4096;
/**
 * What a block replaced in the table had earned, kept for when its code comes back: the compiled
 * function and the interpreted runs. The Debian 686 boot runs about 62,000 distinct blocks through
 * the 16,384 slots; the crypto self-tests' hottest blocks were replaced about 20 times each between
 * their uses and each time came back through 30,000 interpreted runs and a new compile (half of the
 * boot's 750 million interpreted instructions were such).
 */
interface Evicted {
  readonly ip: number;
  readonly csBase: number;
  readonly bitness: number;
  readonly count: number;
  readonly physEnd: number;
  readonly run: CompiledBlock | null;
  readonly hits: number;
}
/** Blocks remembered at most (the oldest go first), and the interpreted runs that earn it uncompiled. */
const MAX_EVICTED = 4096;
const KEEP_HITS = 1000;

/** The physical pages of the bytes [phys, physEnd) of a block (one, or two when it runs onto the next). */
function pagesOf(phys: number, physEnd: number): number[] {
  const first = Math.floor(phys / 4096);
  const last = Math.floor((physEnd - 1) / 4096);
  return first === last ? [first] : [first, last];
}

/** Sets of the block table; each holds {@link WAYS} blocks. */
const SETS = 8192;
const WAYS = 2;

/**
 * A block's identity (physical address, EIP, CS base, code size) as the lookups compare it: int32
 * halves, which V8 keeps in the object itself. The full numbers (`phys`, `ip`, `csBase`) are above
 * 2^31 in a 32-bit kernel, and V8 then keeps such a field in a heap number of its own in every
 * instance: each comparison read one more cache line, the most missed load of the lookup (Debian 686
 * boot, `perf annotate`).
 */
export class Block {
  /** High half of `phys`; -1 when the slot is empty (or its block was dropped). */
  physHi = -1;
  /** Low halves (`x | 0`) of `phys`, `ip` and `csBase`; the high half of a 64-bit RIP (else 0). */
  physLo = 0;
  ipLo = 0;
  ipHi = 0;
  csLo = 0;
  bitness = 0;
  /** CPL and code size the block was last validated for (see `BlockCache.lookup`). */
  key = -1;
  /** Physical address of the first byte; -1 when the slot is empty. */
  phys = -1;
  ip = 0;
  csBase = 0;
  /** Physical page of the block (all its instructions start on it). */
  page = -1;
  /** Physical end (exclusive) of the block's bytes; an instruction may run onto the next page. */
  physEnd = -1;
  count = 0;
  /**
   * Up to four successors (the exits of the conditional branches inside and at the end), valid while
   * the pager generation is `linkGen`; `linkAt` is the one of `next1`..`next3` to replace next.
   */
  next0: Block | null = null;
  next1: Block | null = null;
  next2: Block | null = null;
  next3: Block | null = null;
  linkGen = -1;
  linkAt = 1;
  /** Runs through the interpreter loop since the block was built (see `compiler.ts`). */
  hits = 0;
  /** The block compiled by the compiling tier, once it is hot; null before (and when not compiled). */
  run: CompiledBlock | null = null;
  readonly instructions: Instruction[] = [];
  readonly handlers: Handler[] = [];
  /** The instructions' operand records (`operand-record.ts`), {@link OPS_STRIDE} int32 each. */
  ops: Int32Array = NO_OPS;

  constructor(private readonly memory: PhysicalMemory) {}

  /**
   * The successor this block's links name for the EIP whose halves are `ipLo`/`ipHi`, decoded with the
   * CS base whose low half is `csLo` and CPL/code size `key`, still valid, else null (the caller checks
   * `linkGen` against the pager generation first).
   */
  linked(ipLo: number, ipHi: number, csLo: number, key: number): Block | null {
    let n = this.next0;
    if (n !== null && n.ipLo === ipLo && n.csLo === csLo && n.key === key && n.ipHi === ipHi && n.physHi >= 0)
      return n;
    n = this.next1;
    if (n !== null && n.ipLo === ipLo && n.csLo === csLo && n.key === key && n.ipHi === ipHi && n.physHi >= 0)
      return n;
    n = this.next2;
    if (n !== null && n.ipLo === ipLo && n.csLo === csLo && n.key === key && n.ipHi === ipHi && n.physHi >= 0)
      return n;
    n = this.next3;
    if (n !== null && n.ipLo === ipLo && n.csLo === csLo && n.key === key && n.ipHi === ipHi && n.physHi >= 0)
      return n;
    return null;
  }

  /**
   * Decoded instruction `i`: the one the block holds, or, where it holds {@link RECORD_ONLY} (a fast
   * handler reads only the operand record), the same bytes decoded again from guest RAM (for the
   * compiling tier, which reads every field).
   */
  instruction(i: number): Instruction {
    const held = this.instructions[i]!;
    if (held !== RECORD_ONLY) return held;
    let off = 0;
    for (let j = 0; j < i; j++) off += this.ops[j * OPS_STRIDE + Rec.Length]!;
    const bits = this.bitness as 16 | 32 | 64;
    const ins = new Instruction();
    const at = this.phys + off;
    decodeInto(
      ins,
      this.memory.ram,
      at,
      bits,
      nextEip(this.ip, off, bits),
      at + this.ops[i * OPS_STRIDE + Rec.Length]!,
    );
    return ins;
  }

  /** Whether the slot holds the block with this identity (address halves, code size). */
  holds(physLo: number, physHi: number, ipLo: number, ipHi: number, csLo: number, bitness: number): boolean {
    return (
      this.physLo === physLo &&
      this.ipLo === ipLo &&
      this.csLo === csLo &&
      this.bitness === bitness &&
      this.physHi === physHi &&
      this.ipHi === ipHi
    );
  }

  /** Empties the slot (a lookup no longer finds the block, links to it no longer hold). */
  drop(): void {
    this.physHi = -1;
    this.phys = -1;
  }
}

/**
 * What a block holds in place of a decoded instruction whose handler reads only its operand record (the
 * fast handlers of `fast-paths.ts`) and whose bytes lie in guest RAM on the block's page, where they
 * can be decoded again (`Block.instruction`). The Debian 686 boot's table held about 60 MB of decoded
 * instructions before, most of them never read after the build.
 */
export const RECORD_ONLY = new Instruction();

/** The handlers that read only the operand record (and may have {@link RECORD_ONLY} as the instruction). */
const READS_RECORD = new Set<Handler>([...Object.values(FAST32), ...FAST32_COLD]);

/** A slot's operand records before its first build. */
const NO_OPS = new Int32Array(0);

/** Room for 16 more instructions' operand records (up to {@link MAX_BLOCK}), the old ones kept. */
function grown(ops: Int32Array): Int32Array {
  const bigger = new Int32Array(Math.min(ops.length + 16 * OPS_STRIDE, MAX_BLOCK * OPS_STRIDE));
  bigger.set(ops);
  return bigger;
}

/** Handler for an invalid encoding, a missing feature or a decode that reached a fault. */
function undefinedOpcode(): void {
  raise(Vector.UD, 0);
}

function tooLong(): void {
  raise(Vector.GP, 0);
}

export class BlockCache {
  private readonly table: Block[] = [];
  /** Per set: the way to replace on the next miss (the one not used last). */
  private readonly lru = new Uint8Array(SETS);
  /** Blocks built on each code page (entries may be stale: check `page` and `phys`). */
  private readonly byPage = new Map<number, Block[]>();
  private readonly bytes = new Uint8Array(MAX_INSTRUCTION_LENGTH * 2);
  /** Decoded-instruction objects no block holds, for blocks that grow (see {@link trim}). */
  private readonly spare: Instruction[] = [];
  /** Where `build` decodes each instruction before it knows whether the block keeps it. */
  private scratch = new Instruction();
  /** Replaced blocks by physical address ({@link Evicted}); dropped when their bytes may change. */
  private readonly evicted = new Map<number, Evicted>();
  /** Pages with remembered blocks on them, and how many. */
  private readonly evictedPages = new Map<number, number>();
  /** Blocks built (for statistics and tests). */
  builds = 0;
  /**
   * Whether blocks use the specialised handlers of `fast-paths.ts` (and `fast-paths64.ts` for 64-bit
   * code) where they apply (default). Off, every
   * instruction runs its generic family handler: for differential tests and speed comparisons. Call
   * {@link flush} after changing it.
   */
  fastPaths = true;
  /**
   * Whether hot 32- and 64-bit blocks are compiled to JavaScript functions (`compiler.ts`,
   * `compiler64.ts`; default). Hosts
   * that forbid `new Function` (a Content-Security-Policy without 'unsafe-eval') turn it off on the
   * first failure. Call {@link flush} after changing it.
   */
  compiling = true;
  /** Interpreted runs after which a block is compiled ({@link HOT_RUNS}; tests lower it). */
  hotRuns = HOT_RUNS;
  /** Blocks compiled (for statistics and tests). */
  compiled = 0;

  constructor(private readonly cpu: Cpu) {
    for (let i = 0; i < SETS * WAYS; i++) this.table.push(new Block(cpu.phys));
  }

  /** The block that ran last: its successor links shortcut the next lookup. */
  private prev: Block | null = null;

  /** A compiled block named its successor itself (see `CompiledBlock`): it is the block that runs now. */
  follow(b: Block): void {
    this.prev = b;
  }

  /**
   * The block at CS:EIP, decoding it when needed. Raises #GP/#PF for the first instruction's fetch.
   * A block reached from the previous one through a link skips the translation and the table probe:
   * the link is only used while no translation can have changed (pager generation), for the same CS
   * base, EIP, CPL and code size.
   */
  lookup(): Block {
    const cpu = this.cpu;
    const ip = cpu.regs.ip;
    const s = cpu.segs;
    const bitness = cpu.bitness;
    // 64-bit mode: no CS limit, base 0; RIP is a canonical address in signed form.
    if (ip > s.hi[Seg.CS]! && bitness !== 64) raise(Vector.GP, 0);
    const csBase = bitness === 64 ? 0 : s.base[Seg.CS]!;
    const key = cpu.ctrl.cpl | bitness;
    const gen = cpu.pager.generation;
    const prev = this.prev;
    const ipLo = ip | 0;
    const ipHi = bitness === 64 ? highHalf(ip) : 0;
    const csLo = csBase | 0;
    if (prev !== null && prev.linkGen === gen) {
      const n = prev.linked(ipLo, ipHi, csLo, key);
      if (n !== null) {
        this.prev = n;
        return n;
      }
    }
    const linear = bitness === 64 ? ip : (csBase + ip) >>> 0;
    const phys = cpu.pager.translate(linear, AccessKind.Fetch, cpu.ctrl.cpl === 3);
    const physLo = phys | 0;
    const physHi = highHalf(phys);
    const set = (phys ^ (phys >>> 12)) & (SETS - 1);
    const table = this.table;
    let blk = table[set * 2]!;
    if (blk.holds(physLo, physHi, ipLo, ipHi, csLo, bitness)) {
      this.lru[set] = 1;
    } else {
      blk = table[set * 2 + 1]!;
      if (blk.holds(physLo, physHi, ipLo, ipHi, csLo, bitness)) {
        this.lru[set] = 0;
      } else {
        // A miss: build into the way used least recently, which the other way then becomes.
        const way = this.lru[set]!;
        blk = table[set * 2 + way]!;
        this.lru[set] = way ^ 1;
        if (blk.physHi >= 0 && (blk.run !== null || blk.hits >= KEEP_HITS)) this.remember(blk);
        this.build(blk, phys, ip, csBase, bitness);
      }
    }
    blk.key = key;
    if (prev !== null) {
      if (prev.linkGen !== gen) {
        prev.next0 = blk;
        prev.next1 = null;
        prev.next2 = null;
        prev.next3 = null;
        prev.linkGen = gen;
      } else if (prev.next0 === null || prev.next0.physHi < 0) prev.next0 = blk;
      else if (prev.next1 === null || prev.next1.physHi < 0) prev.next1 = blk;
      else if (prev.next2 === null || prev.next2.physHi < 0) prev.next2 = blk;
      else if (prev.next3 === null || prev.next3.physHi < 0) prev.next3 = blk;
      else {
        // All four taken: replace the later three in turn (the first is usually the common path).
        const at = prev.linkAt;
        prev.linkAt = at === 3 ? 1 : at + 1;
        if (at === 1) prev.next1 = blk;
        else if (at === 2) prev.next2 = blk;
        else prev.next3 = blk;
      }
    }
    this.prev = blk;
    return blk;
  }

  private build(b: Block, phys: number, ip: number, csBase: number, bitness: 16 | 32 | 64): void {
    const cpu = this.cpu;
    this.builds++;
    b.drop();
    b.count = 0;
    b.hits = 0;
    b.run = null;
    const page = Math.floor(phys / 4096);
    let cur = ip;
    let branches = 0;
    // Offset of the current instruction from the block's start; the block's page offset in RAM, where
    // instructions on it can be decoded again (-1: not in the RAM fast path).
    let off = 0;
    const inRam = phys + 4096 <= cpu.phys.ramSize ? phys & 0xfff : -1;
    const list = b.instructions;
    while (b.count < MAX_BLOCK) {
      if (list.length <= b.count) {
        list.push(RECORD_ONLY);
        b.handlers.push(undefinedOpcode);
      }
      // Decoded into the scratch object; kept (swapped with the slot's own) when the handler needs it.
      const ins = this.scratch;
      const first = b.count === 0;
      const n = this.fetch(cur, csBase, first, bitness === 64);
      if (n < 0) break; // a later instruction's fetch would fault: end the block before it
      decodeInto(ins, this.bytes, 0, bitness, cur, n);
      let handler: Handler;
      if (ins.error !== DecodeError.None) {
        if (ins.error === DecodeError.NoMoreBytes) {
          if (!first) break;
          // The instruction runs past the CS limit or into a page that faulted quietly: refetch loudly.
          this.fetchRest(cur, csBase, bitness === 64);
          handler = undefinedOpcode;
        } else handler = ins.error === DecodeError.TooLong ? tooLong : undefinedOpcode;
      } else if (cpu.features[ins.cpuidFeature] === 0 || cpu.features[ins.cpuidFeature2] === 0) {
        handler = LEGACY_MEANING[ins.code] ?? undefinedOpcode;
      } else {
        // 64-bit code has its own fast paths (REX registers, zero-extended 32-bit results, 64-bit addressing).
        handler =
          (this.fastPaths ? (bitness === 64 ? fastHandler64(ins) : fastHandler(ins)) : null) ??
          HANDLERS[ins.code] ??
          undefinedOpcode;
      }
      b.handlers[b.count] = handler;
      const held = list[b.count]!;
      if (inRam >= 0 && inRam + off + ins.length <= 4096 && READS_RECORD.has(handler)) {
        if (held !== RECORD_ONLY) {
          if (this.spare.length < MAX_SPARE) this.spare.push(held);
          list[b.count] = RECORD_ONLY;
        }
      } else {
        list[b.count] = ins;
        this.scratch = held !== RECORD_ONLY ? held : (this.spare.pop() ?? new Instruction());
      }
      const at = b.count * OPS_STRIDE;
      if (at + OPS_STRIDE > b.ops.length) b.ops = grown(b.ops);
      writeRecord(b.ops, at, ins);
      b.count++;
      off += ins.length;
      if (
        handler === undefinedOpcode ||
        handler === tooLong ||
        // A branch back to the block's start ends it: the compiling tier runs such a loop in place.
        (ins.endsBlock &&
          (!CONDITIONAL_NEAR.has(ins.code) || ins.nearBranchTarget === ip || ++branches > MID_BRANCHES)) ||
        ins.code === Code.INVALID
      )
        break;
      cur = ins.nextIp;
      const nextLinear = (csBase + cur) >>> 0;
      if (nextLinear >>> 12 !== (csBase + ip) >>> 12) break;
    }
    this.trim(b);
    b.phys = phys;
    b.ip = ip;
    b.csBase = csBase;
    b.bitness = bitness;
    b.physLo = phys | 0;
    b.physHi = highHalf(phys);
    b.ipLo = ip | 0;
    b.ipHi = bitness === 64 ? highHalf(ip) : 0;
    b.csLo = csBase | 0;
    b.page = page;
    b.physEnd = phys + off;
    this.track(b, page);
    const endPage = Math.floor((b.physEnd - 1) / 4096);
    if (endPage !== page) this.track(b, endPage);
    const e = this.evicted.get(phys);
    if (e !== undefined) {
      this.forget(phys, e);
      // The same bytes decoded the same way (a write to them would have dropped `e`).
      if (
        e.ip === ip &&
        e.csBase === csBase &&
        e.bitness === bitness &&
        e.count === b.count &&
        e.physEnd === b.physEnd
      ) {
        b.run = e.run;
        b.hits = e.hits;
      }
    }
  }

  /** Keeps what `b`, about to be replaced, has earned ({@link Evicted}). */
  private remember(b: Block): void {
    const evicted = this.evicted;
    const old = evicted.get(b.phys);
    if (old !== undefined) this.forget(b.phys, old);
    if (evicted.size >= MAX_EVICTED) {
      const oldest = evicted.keys().next().value!;
      this.forget(oldest, evicted.get(oldest)!);
    }
    for (const page of pagesOf(b.phys, b.physEnd))
      this.evictedPages.set(page, (this.evictedPages.get(page) ?? 0) + 1);
    evicted.set(b.phys, {
      ip: b.ip,
      csBase: b.csBase,
      bitness: b.bitness,
      count: b.count,
      physEnd: b.physEnd,
      run: b.run,
      hits: b.hits,
    });
  }

  private forget(phys: number, e: Evicted): void {
    this.evicted.delete(phys);
    for (const page of pagesOf(phys, e.physEnd)) {
      const n = this.evictedPages.get(page)! - 1;
      if (n === 0) this.evictedPages.delete(page);
      else this.evictedPages.set(page, n);
    }
  }

  /**
   * Gives the decoded instructions a slot holds beyond its block's count to the spare pool, so that
   * the table keeps what its blocks use rather than the longest block each slot ever held (Debian 686
   * boot: 230,000 `Instruction` objects held for 88,000 in use, about 30 MB). Blocks that grow take
   * from the pool first, so the steady state still allocates next to nothing.
   */
  private trim(b: Block): void {
    const list = b.instructions;
    const n = b.count;
    if (list.length === n) return;
    const spare = this.spare;
    for (let i = n; i < list.length && spare.length < MAX_SPARE; i++)
      if (list[i] !== RECORD_ONLY) spare.push(list[i]!);
    list.length = n;
    b.handlers.length = n;
  }

  /** Compiles a hot block (called by the interpreter loop when `hits` reaches {@link hotRuns}). */
  compile(b: Block): void {
    // A block dropped by a code write while it ran is rebuilt before it runs again.
    if (!this.compiling || b.phys < 0) return;
    try {
      b.run = b.bitness === 64 ? compileBlock64(b) : compileBlock(b);
    } catch (e) {
      // `new Function` refused by the host: stay with the interpreter.
      if (!(e instanceof EvalError)) throw e;
      this.compiling = false;
      return;
    }
    if (b.run !== null) this.compiled++;
  }

  private track(b: Block, page: number): void {
    let list = this.byPage.get(page);
    if (list === undefined) {
      list = [];
      this.byPage.set(page, list);
    }
    if (!list.includes(b)) list.push(b);
    const pages = this.cpu.phys.codePages;
    if (pages[page] === 0) {
      pages[page] = 1;
      // Writes to this page must reach PhysicalMemory from now on, to drop the blocks on it.
      this.cpu.pager.dropRamWrites();
    }
  }

  /**
   * Copies up to 15 code bytes at CS:ip into the scratch buffer, stopping at the CS limit and, for bytes
   * on the next page, at a translation failure. Returns the count, or -1 when not even the first byte
   * is fetchable (only possible for a non-first instruction, which then starts a new block).
   */
  private fetch(ip: number, csBase: number, first: boolean, long: boolean): number {
    const cpu = this.cpu;
    const s = cpu.segs;
    const hi = s.hi[Seg.CS]!;
    if (ip > hi && !long) {
      if (first) raise(Vector.GP, 0);
      return -1;
    }
    const avail = long ? MAX_INSTRUCTION_LENGTH : Math.min(MAX_INSTRUCTION_LENGTH, hi - ip + 1);
    const user = cpu.ctrl.cpl === 3;
    let n = 0;
    // The linear address is formed only where a page starts (no number carried byte by byte: one
    // above 2^31 would be boxed at each step).
    const start = long ? ip : (csBase + ip) >>> 0;
    let p = -1;
    while (n < avail) {
      if (n === 0 || ((start + n) & 0xfff) === 0) {
        try {
          p = cpu.pager.translate(long ? start + n : (start + n) >>> 0, AccessKind.Fetch, user);
        } catch (e) {
          if (n === 0 && !first) return -1;
          if (n === 0) throw e;
          break;
        }
      }
      this.bytes[n++] = cpu.phys.read8(p);
      p++;
    }
    return n;
  }

  /** Fetches the rest of an instruction that ran out of bytes, raising the fault a real fetch would. */
  private fetchRest(ip: number, csBase: number, long: boolean): void {
    const cpu = this.cpu;
    const s = cpu.segs;
    const end = ip + MAX_INSTRUCTION_LENGTH - 1;
    for (let i = ip; i <= end; i++) {
      if (!long && (i > s.hi[Seg.CS]! || (s.access[Seg.CS]! & Access.VALID) === 0)) segmentFault(Seg.CS);
      cpu.pager.translate(long ? i : (csBase + i) >>> 0, AccessKind.Fetch, cpu.ctrl.cpl === 3);
    }
  }

  /**
   * Physical memory reports a write on a page holding code: drop the blocks whose bytes overlap it
   * (data next to code on the same page costs nothing), and end the current block if one was hit.
   */
  codeWritten(gpa: number, length: number): void {
    const page = Math.floor(gpa / 4096);
    // Replaced blocks on this page go too: once the page holds no block, its writes are not reported.
    if (this.evictedPages.has(page))
      for (const [phys, e] of this.evicted) if (pagesOf(phys, e.physEnd).includes(page)) this.forget(phys, e);
    const list = this.byPage.get(page);
    if (list === undefined) {
      this.cpu.phys.codePages[page] = 0;
      return;
    }
    const end = gpa + length;
    let keep = 0;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (b.phys < 0 || (b.page !== page && Math.floor((b.physEnd - 1) / 4096) !== page)) continue;
      if (b.phys < end && gpa < b.physEnd) {
        b.drop();
        this.cpu.stop = true;
        continue;
      }
      list[keep++] = b;
    }
    list.length = keep;
    if (keep === 0) {
      this.byPage.delete(page);
      this.cpu.phys.codePages[page] = 0;
    }
  }

  /** Drops every block (mode switches that change how bytes decode are covered by the block key). */
  flush(): void {
    this.prev = null;
    this.evicted.clear();
    this.evictedPages.clear();
    const pages = this.cpu.phys.codePages;
    for (const page of this.byPage.keys()) pages[page] = 0;
    this.byPage.clear();
    for (const b of this.table) {
      b.drop();
      b.page = -1;
    }
  }
}
