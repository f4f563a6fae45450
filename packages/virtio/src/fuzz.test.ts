/**
 * Property tests for everything a guest controls: random descriptor tables, ring indices, flags,
 * request headers and register writes, on both ring layouts, for every device. The device must
 * never throw on the host, never write outside guest RAM (canaries around it) or into ROM, and never
 * ask GuestMemory for an access outside RAM.
 *
 * `VIRTIO_FUZZ_RUNS=1000000 vitest run packages/virtio/src/fuzz.test.ts` runs the long campaign.
 */
import { appendFileSync } from 'node:fs';
import { type Gpa, GuestMemory } from '@typevisor/memory';
import { FakeIrqLine } from '@typevisor/memory/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DESCRIPTOR_SIZE, DescFlag, DeviceStatus, TransportFeature } from './constants.js';
import type { VirtioDevice } from './device.js';
import { MemoryBlockBackend } from './devices/blk/backend.js';
import { BlkDevice } from './devices/blk/device.js';
import { ConsoleDevice } from './devices/console/device.js';
import type { NetBackend } from './devices/net/backend.js';
import { NetDevice } from './devices/net/device.js';
import { RngDevice } from './devices/rng/device.js';
import { featureWord } from './features.js';
import { MmioInterrupt } from './mmio/registers.js';
import { MmioTransport } from './mmio/transport.js';
import { CommonCfg, IsrBit, ModernBar, MsixBar } from './pci/registers.js';
import { VirtioPciDevice } from './pci/transport.js';
import { GuestAllocator, MmioDriver, PciDriver, type VirtioDriver } from './testing/index.js';

/** Cases per device, split evenly between the two families below. */
const RUNS = Number(process.env.VIRTIO_FUZZ_RUNS ?? 2000);
const HALF = Math.max(1, Math.floor(RUNS / 2));
const TIMEOUT = Math.max(60_000, RUNS * 10);
/** `VIRTIO_FUZZ_STATS=1` prints how the cases ended (used, reset) per device. */
const STATS = process.env.VIRTIO_FUZZ_STATS === '1';
/** `VIRTIO_FUZZ_LOG=<file>` appends progress every 10,000 cases (vitest shows console output only at the end). */
const LOG = process.env.VIRTIO_FUZZ_LOG;

const RAM = 0x10000;
const GUARD = 0x1000;
const ROM_BASE = 0x20000;
const ROM_SIZE = 0x1000;
/** Queue q's areas: desc at q*0x1000, driver area at +0x800, device area at +0xc00. */
const QUEUE_STRIDE = 0x1000;
const INDIRECT_AREA = 0x4000;
const DATA_AREA = 0x6000;

/** Guest memory that counts any access GuestMemory would have to refuse (outside RAM/ROM). */
class GuardedMemory extends GuestMemory {
  outside = 0;
  private check(gpa: number, length: number): void {
    if (!this.contains(gpa, length)) this.outside++;
  }
  override read8(gpa: Gpa | number): number {
    this.check(gpa, 1);
    return super.read8(gpa);
  }
  override read16(gpa: Gpa | number): number {
    this.check(gpa, 2);
    return super.read16(gpa);
  }
  override read32(gpa: Gpa | number): number {
    this.check(gpa, 4);
    return super.read32(gpa);
  }
  override write8(gpa: Gpa | number, v: number): void {
    this.check(gpa, 1);
    super.write8(gpa, v);
  }
  override write16(gpa: Gpa | number, v: number): void {
    this.check(gpa, 2);
    super.write16(gpa, v);
  }
  override write32(gpa: Gpa | number, v: number): void {
    this.check(gpa, 4);
    super.write32(gpa, v);
  }
  override readBytes(gpa: Gpa | number, dst: Uint8Array): boolean {
    this.check(gpa, dst.length);
    return super.readBytes(gpa, dst);
  }
  override writeBytes(gpa: Gpa | number, src: Uint8Array): boolean {
    this.check(gpa, src.length);
    return super.writeBytes(gpa, src);
  }
  override fill(gpa: Gpa | number, length: number, value: number): boolean {
    this.check(gpa, length);
    return super.fill(gpa, length, value);
  }
}

interface World {
  readonly memory: GuardedMemory;
  readonly backing: Uint8Array;
  readonly rom: Uint8Array;
  readonly romCopy: Uint8Array;
}

function world(): World {
  const backing = new Uint8Array(new SharedArrayBuffer(RAM + 2 * GUARD)).fill(0xa5);
  const memory = new GuardedMemory();
  memory.addRegion(0, backing.subarray(GUARD, GUARD + RAM).fill(0));
  const rom = new Uint8Array(ROM_SIZE).map((_, i) => (i * 13) & 0xff);
  memory.addRegion(ROM_BASE, rom, { readonly: true });
  return { memory, backing, rom, romCopy: rom.slice() };
}

/** One world per property, wiped between cases (allocating a SharedArrayBuffer per case is slow). */
function wipe(w: World): World {
  w.backing.subarray(GUARD, GUARD + RAM).fill(0);
  w.memory.outside = 0;
  return w;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function allAre(a: Uint8Array, value: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== value) return false;
  return true;
}

function assertIntact(w: World): void {
  if (!allAre(w.backing.subarray(0, GUARD), 0xa5)) throw new Error('write below guest RAM');
  if (!allAre(w.backing.subarray(GUARD + RAM), 0xa5)) throw new Error('write above guest RAM');
  if (!same(w.rom, w.romCopy)) throw new Error('write into ROM');
  if (w.memory.outside !== 0) throw new Error(`${w.memory.outside} accesses outside guest RAM`);
}

// ---- arbitraries -------------------------------------------------------------------------------

/** Addresses: mostly inside the data or indirect areas, sometimes at RAM/ROM edges, sometimes anywhere. */
const addrLo = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: DATA_AREA, max: RAM - 1 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 7 }).map((k) => INDIRECT_AREA + k * 0x100) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(0, RAM - 1, RAM - 16, RAM, ROM_BASE, ROM_BASE + ROM_SIZE - 1, 0xfffffff0),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);
const addrHi = fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, fc.integer({ min: 0, max: 0xffffffff }));
const len = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 3, arbitrary: fc.constantFrom(1, 12, 16, 17, 32, 48, 512, 1024, 1025) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x3000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);
const descFlags = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 7 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);
const descriptor = fc.record({
  lo: addrLo,
  hi: addrHi,
  len,
  flags: descFlags,
  /** Packed: whether to mark it available in lap 1 or lap 0 (or leave random bits). */
  avail: fc.constantFrom<'lap1' | 'lap0' | 'raw'>('lap1', 'lap1', 'lap0', 'raw'),
  next: fc.oneof(fc.integer({ min: 0, max: 33 }), fc.integer({ min: 0, max: 0xffff })),
  id: fc.integer({ min: 0, max: 40 }),
});

const u16 = fc.integer({ min: 0, max: 0xffff });
type Skew = [number, number, number];
const queueState = fc.record({
  size: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(1, 2, 4, 8, 16, 32) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
  ),
  /** Offsets of the three areas; occasionally misaligned or outside RAM. */
  areaSkew: fc.oneof(
    { weight: 8, arbitrary: fc.constant<Skew>([0, 0, 0]) },
    fc.tuple(
      fc.integer({ min: -3, max: 3 }),
      fc.integer({ min: -3, max: 3 }),
      fc.integer({ min: -3, max: 3 }),
    ),
    fc.constant<Skew>([RAM, ROM_BASE, 0]),
    fc.constant<Skew>([0, 0, ROM_BASE - QUEUE_STRIDE]),
  ),
  descs: fc.array(descriptor, { maxLength: 33 }),
  availIdx: fc.oneof(fc.integer({ min: 0, max: 40 }), u16),
  availRing: fc.array(fc.oneof(fc.integer({ min: 0, max: 33 }), u16), { maxLength: 33 }),
  availFlags: fc.integer({ min: 0, max: 3 }),
  usedEvent: u16,
  usedIdx: u16,
  driverEvent: fc.tuple(u16, fc.integer({ min: 0, max: 3 })),
});

/** Request-ish payloads in the data area: request types and small sectors dominate. */
const word = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 4, 8, 11, 13, 99) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);

const action = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('kick' as const),
      queue: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.integer({ min: 0, max: 2 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('input' as const), bytes: fc.integer({ min: 0, max: 3000 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('scribble' as const),
      at: fc.integer({ min: 0, max: 3 * QUEUE_STRIDE - 1 }),
      value: u16,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('register' as const),
      offset: fc.integer({ min: 0, max: 0x140 }).map((o) => o & ~3),
      value: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffffffff })),
    }),
  },
);

const scenario = fc.record({
  transport: fc.constantFrom<'mmio' | 'pci'>('mmio', 'pci'),
  msix: fc.boolean(),
  packed: fc.boolean(),
  eventIdx: fc.boolean(),
  indirect: fc.boolean(),
  /** Features the driver accepts (masked with the offered ones; VERSION_1 usually kept). */
  acceptLo: fc.integer({ min: 0, max: 0xffffffff }),
  keepVersion: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, fc.constant(false)),
  queues: fc.array(queueState, { minLength: 2, maxLength: 2 }),
  indirectTables: fc.array(descriptor, { maxLength: 24 }),
  words: fc.array(word, { maxLength: 64 }),
  actions: fc.array(action, { minLength: 1, maxLength: 8 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;
type Desc = Scenario['indirectTables'][number];

// ---- driving a device from a scenario ----------------------------------------------------------

function writeDesc(memory: GuestMemory, at: number, d: Desc, packed: boolean, lapFlags: boolean): void {
  memory.write32(at, d.lo);
  memory.write32(at + 4, d.hi);
  memory.write32(at + 8, d.len);
  if (packed) {
    memory.write16(at + 12, d.id);
    let flags = d.flags;
    if (lapFlags && d.avail === 'lap1') flags = (flags & 7) | DescFlag.AVAIL;
    else if (lapFlags && d.avail === 'lap0') flags = (flags & 7) | DescFlag.USED;
    memory.write16(at + 14, flags);
  } else {
    memory.write16(at + 12, d.flags);
    memory.write16(at + 14, d.next);
  }
}

function layOut(memory: GuestMemory, s: Scenario): void {
  s.queues.forEach((q, i) => {
    const base = i * QUEUE_STRIDE;
    q.descs.forEach((d, k) => {
      writeDesc(memory, base + k * DESCRIPTOR_SIZE, d, s.packed, true);
    });
    const avail = base + 0x800;
    const used = base + 0xc00;
    if (s.packed) {
      memory.write16(avail, q.driverEvent[0]);
      memory.write16(avail + 2, q.driverEvent[1]);
    } else {
      memory.write16(avail, q.availFlags);
      memory.write16(avail + 2, q.availIdx);
      q.availRing.forEach((h, k) => {
        memory.write16(avail + 4 + 2 * k, h);
      });
      memory.write16(avail + 4 + 2 * Math.min(q.availRing.length, 32), q.usedEvent);
      memory.write16(used + 2, q.usedIdx);
    }
  });
  s.indirectTables.forEach((d, k) => {
    writeDesc(memory, INDIRECT_AREA + k * DESCRIPTOR_SIZE, d, s.packed, false);
  });
  s.words.forEach((w, k) => {
    // Spread the words over the first bytes of 512-byte slots so headers appear at many buffer starts.
    memory.write32(DATA_AREA + (k % 16) * 0x200 + Math.floor(k / 16) * 4, w);
  });
}

/** A device on one transport with a driver fake, plus the few extra moves the fuzzer makes. */
interface Rig {
  readonly driver: VirtioDriver;
  readonly offered: number;
  status(): number;
  /** A random register write (any register of the transport, any value). */
  poke(offset: number, value: number): void;
  /** Reads and acknowledges the interrupt cause; true if a used-buffer interrupt was pending. */
  usedInterrupt(): boolean;
  /** Reads every register. */
  readEverything(): void;
}

function rig(kind: 'mmio' | 'pci', device: VirtioDevice, w: World, packed: boolean, msix: boolean): Rig {
  const alloc = new GuestAllocator(w.memory, 0x1000, RAM);
  if (kind === 'mmio') {
    const t = new MmioTransport(device, w.memory, new FakeIrqLine(), { packed });
    const driver = new MmioDriver(t, w.memory, alloc);
    return {
      driver,
      offered: t.offered,
      status: () => t.deviceStatus,
      poke: (offset, value) => t.write(offset & 0x1fc, 4, value),
      usedInterrupt: () => (driver.ackInterrupt() & MmioInterrupt.USED_BUFFER) !== 0,
      readEverything: () => {
        for (let o = 0; o < 0x140; o += 4) t.read(o, 4);
      },
    };
  }
  let msis = 0;
  const pci = new VirtioPciDevice(device, w.memory, {
    packed,
    intx: new FakeIrqLine(),
    msi: { sendMsi: () => msis++ },
  });
  const driver = new PciDriver(pci, w.memory, alloc, { msix });
  const bar4 = pci.barDevice(ModernBar.INDEX)!;
  const bar1 = pci.barDevice(MsixBar.INDEX)!;
  return {
    driver,
    offered: pci.offered,
    status: () => pci.deviceStatus,
    poke: (offset, value) => {
      const size = (offset & 3) === 0 ? 4 : (offset & 1) === 0 ? 2 : 1;
      switch (offset % 4) {
        case 0:
          bar4.write(offset % CommonCfg.SIZE, size, value);
          return;
        case 1:
          bar4.write(ModernBar.NOTIFY + ((offset >> 2) & 0xf), size, value);
          return;
        case 2:
          bar1.write(offset & 0xfc, 4, value);
          return;
        default:
          // Anything in configuration space but the BARs and Command, which the fake relies on.
          if (offset >= 0x40) pci.configWrite(offset & 0xfc, 4, value);
      }
    },
    usedInterrupt: () => {
      const sent = msis;
      msis = 0;
      return sent > 0 || (driver.ackInterrupt() & IsrBit.QUEUE) !== 0;
    },
    readEverything: () => {
      for (let o = 0; o < 0x100; o += 4) pci.configRead(o, 4);
      for (let o = 0; o < CommonCfg.SIZE; o++) bar4.read(o, 1);
      for (let o = 0; o < CommonCfg.SIZE; o += 2) bar4.read(o, 2);
      for (let o = 0; o < CommonCfg.SIZE; o += 4) bar4.read(o, 4);
      for (let o = 0; o < 0x900; o += 4) bar1.read(o, 4);
    },
  };
}

function init(r: Rig, s: Scenario): void {
  const d = r.driver;
  d.setStatus(0);
  d.setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
  let hi = featureWord(r.offered, 1);
  if (!s.packed) hi &= ~(1 << (TransportFeature.RING_PACKED - 32));
  if (!s.keepVersion) hi &= ~(1 << (TransportFeature.VERSION_1 - 32));
  let lo = s.acceptLo | (s.eventIdx ? 1 << TransportFeature.RING_EVENT_IDX : 0);
  if (!s.indirect) lo &= ~(1 << TransportFeature.INDIRECT_DESC);
  if (!s.eventIdx) lo &= ~(1 << TransportFeature.RING_EVENT_IDX);
  d.writeFeatureWord(0, lo >>> 0);
  d.writeFeatureWord(1, hi >>> 0);
  d.setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
  s.queues.forEach((q, i) => {
    const base = i * QUEUE_STRIDE;
    const [a, b, c] = q.areaSkew;
    d.programQueue(i, {
      size: q.size,
      descAddr: base + a,
      driverAddr: base + 0x800 + b,
      deviceAddr: base + 0xc00 + c,
    });
  });
  d.setStatus(
    DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK,
  );
}

class SinkBackend implements NetBackend {
  receive: (frame: Uint8Array) => void = () => {};
  sent = 0;
  send(): void {
    this.sent++;
  }
  attach(receive: (frame: Uint8Array) => void): void {
    this.receive = receive;
  }
}

interface Subject {
  readonly device: VirtioDevice;
  input(bytes: number): void;
}

/** How the cases ended, to check the generator reaches the devices and not only the error paths. */
interface Outcomes {
  readonly label: string;
  cases: number;
  used: number;
  needsReset: number;
  packedUsed: number;
}

function run(w: World, s: Scenario, make: () => Subject, outcomes: Outcomes): void {
  wipe(w);
  const subject = make();
  const r = rig(s.transport, subject.device, w, s.packed, s.msix);
  init(r, s);
  layOut(w.memory, s);
  w.memory.outside = 0;
  let usedInterrupts = 0;
  for (const a of s.actions) {
    if (a.kind === 'kick') r.driver.kick(a.queue);
    else if (a.kind === 'input') subject.input(a.bytes);
    else if (a.kind === 'scribble') w.memory.write16(a.at & ~1, a.value);
    else r.poke(a.offset, a.value);
    if (r.usedInterrupt()) usedInterrupts++;
  }
  outcomes.cases++;
  if (LOG !== undefined && outcomes.cases % 10_000 === 0) {
    appendFileSync(LOG, `${new Date().toISOString()} ${JSON.stringify(outcomes)}\n`);
  }
  if (usedInterrupts > 0) outcomes.used++;
  if (usedInterrupts > 0 && s.packed) outcomes.packedUsed++;
  if ((r.status() & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) outcomes.needsReset++;
  // Reading every register and the configuration space never throws either.
  r.readEverything();
  if ((r.status() & ~0xff) !== 0) throw new Error(`status ${r.status()}`);
  assertIntact(w);
}

// ---- family B: valid chains from the driver fake, then mutated ---------------------------------

const header = fc
  .record({
    type: word,
    sector: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 0xffffffff })),
  })
  .map(({ type, sector }) => {
    const h = new Uint8Array(16);
    const v = new DataView(h.buffer);
    v.setUint32(0, type, true);
    v.setUint32(8, sector, true);
    return h;
  });
const bufferSpec = fc.oneof(
  { weight: 2, arbitrary: header.map((read) => ({ read })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 40 }).map((read) => ({ read })) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(fc.constantFrom(1, 12, 16, 72, 512, 513, 1024, 1526), fc.integer({ min: 0, max: 2048 }))
      .map((write) => ({ write })),
  },
);
const chainSpec = fc.record({
  queue: fc.integer({ min: 0, max: 1 }),
  /** `request`: header, buffers, status byte (a block request's shape); `free`: anything. */
  shape: fc.constantFrom<'request' | 'free'>('request', 'request', 'request', 'request', 'free'),
  head: header,
  buffers: fc.array(bufferSpec, { minLength: 1, maxLength: 4 }),
  indirect: fc.boolean(),
});
const mutation = fc.record({
  area: fc.constantFrom<'desc' | 'driver' | 'device' | 'heap'>('desc', 'desc', 'driver', 'device', 'heap'),
  queue: fc.integer({ min: 0, max: 1 }),
  at: fc.nat(),
  value: fc.oneof(u16, fc.constantFrom(0, 1, 2, 4, 0x80, 0x8000, 0x8080, 0xffff)),
});
const mutatedScenario = fc.record({
  transport: fc.constantFrom<'mmio' | 'pci'>('mmio', 'pci'),
  msix: fc.boolean(),
  packed: fc.boolean(),
  eventIdx: fc.boolean(),
  queueSize: fc.constantFrom(1, 2, 4, 8, 16, 32),
  chains: fc.array(chainSpec, { maxLength: 6 }),
  mutations: fc.array(mutation, { maxLength: 3 }),
  actions: fc.array(action, { minLength: 1, maxLength: 6 }),
});
type MutatedScenario = typeof mutatedScenario extends fc.Arbitrary<infer T> ? T : never;

function runMutated(w: World, s: MutatedScenario, make: () => Subject, outcomes: Outcomes): void {
  wipe(w);
  const subject = make();
  const r = rig(s.transport, subject.device, w, s.packed, s.msix);
  const driver = r.driver;
  const alloc = driver.alloc;
  const accept = s.eventIdx ? r.offered : r.offered - 2 ** TransportFeature.RING_EVENT_IDX;
  driver.init({ accept, queueSize: s.queueSize });
  for (const c of s.chains) {
    const q = driver.queues[c.queue % driver.queues.length];
    const buffers =
      c.shape === 'free'
        ? c.buffers
        : [{ read: c.head }, ...c.buffers.filter((b) => 'write' in b), { write: 1 }];
    try {
      q?.add(buffers, { indirect: c.indirect });
    } catch {
      // The fake driver's ring or heap is full: the driver would not add this chain.
    }
  }
  const heapEnd = alloc.mark();
  for (const m of s.mutations) {
    const q = driver.queues[m.queue % driver.queues.length];
    if (q === undefined) continue;
    const [base, span] =
      m.area === 'desc'
        ? [q.descAddr, q.size * DESCRIPTOR_SIZE]
        : m.area === 'driver'
          ? [q.driverAddr, 4]
          : m.area === 'device'
            ? [q.deviceAddr, 4]
            : [0x1000, heapEnd - 0x1000];
    w.memory.write16((base + (m.at % Math.max(span - 1, 1))) & ~1, m.value);
  }
  // Only what the device does counts from here on; the fake driver's own reads are not under test.
  w.memory.outside = 0;
  let usedInterrupts = 0;
  for (const a of s.actions) {
    if (a.kind === 'kick') driver.kick(a.queue);
    else if (a.kind === 'input') subject.input(a.bytes);
    else if (a.kind === 'scribble') w.memory.write16(a.at & ~1, a.value);
    else r.poke(a.offset, a.value);
    if (r.usedInterrupt()) usedInterrupts++;
  }
  const deviceOutside = w.memory.outside;
  // The driver fake reads back what the device returned, as a real driver would.
  for (const q of driver.queues) q.drainUsed();
  w.memory.outside = deviceOutside;
  outcomes.cases++;
  if (LOG !== undefined && outcomes.cases % 10_000 === 0) {
    appendFileSync(LOG, `${new Date().toISOString()} ${JSON.stringify(outcomes)}\n`);
  }
  if (usedInterrupts > 0) outcomes.used++;
  if (usedInterrupts > 0 && s.packed) outcomes.packedUsed++;
  if ((r.status() & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) outcomes.needsReset++;
  assertIntact(w);
}

const subjects: Record<string, () => Subject> = {
  'virtio-blk': () => {
    const disk = new MemoryBlockBackend(64 * 512);
    return { device: new BlkDevice(disk, { serial: 'fuzz' }), input: () => {} };
  },
  'virtio-blk (read-only)': () => ({
    device: new BlkDevice(new MemoryBlockBackend(16 * 512, true)),
    input: () => {},
  }),
  'virtio-net': () => {
    const backend = new SinkBackend();
    return {
      device: new NetDevice(backend),
      input: (n) => backend.receive(new Uint8Array(n).fill(n & 0xff)),
    };
  },
  'virtio-console': () => {
    const dev = new ConsoleDevice({ write: () => {} });
    return { device: dev, input: (n) => dev.input(new Uint8Array(n)) };
  },
  'virtio-rng': () => ({
    device: new RngDevice({ fill: (d) => d.fill(0x42) }),
    input: () => {},
  }),
};

describe(`random descriptor tables and ring states (${RUNS} cases per device)`, () => {
  for (const [name, make] of Object.entries(subjects)) {
    it(
      `${name} never throws, never writes outside RAM or into ROM, on either ring layout`,
      () => {
        const w = world();
        const outcomes: Outcomes = {
          label: `${name} random`,
          cases: 0,
          used: 0,
          needsReset: 0,
          packedUsed: 0,
        };
        fc.assert(
          fc.property(scenario, (s) => {
            run(w, s, make, outcomes);
          }),
          { numRuns: HALF },
        );
        if (STATS) console.log(outcomes);
      },
      TIMEOUT,
    );

    it(
      `${name} survives mutated valid rings and completes most of them, on both layouts`,
      () => {
        const w = world();
        const outcomes: Outcomes = {
          label: `${name} mutated`,
          cases: 0,
          used: 0,
          needsReset: 0,
          packedUsed: 0,
        };
        fc.assert(
          fc.property(mutatedScenario, (s) => {
            runMutated(w, s, make, outcomes);
          }),
          { numRuns: HALF },
        );
        if (STATS) console.log(outcomes);
        // Non-vacuity: the generator must keep reaching the request paths on both layouts.
        expect(outcomes.used).toBeGreaterThan(outcomes.cases * 0.1);
        expect(outcomes.packedUsed).toBeGreaterThan(outcomes.cases * 0.03);
      },
      TIMEOUT,
    );
  }

  it.each(['mmio', 'pci'] as const)(
    'the random-table harness reaches the device over %s: a valid chain is used',
    (transport) => {
      // A hand-made scenario with a valid split chain proves the harness is not only producing errors.
      const s: Scenario = {
        transport,
        msix: false,
        packed: false,
        eventIdx: false,
        indirect: true,
        acceptLo: 0,
        keepVersion: true,
        queues: [
          {
            size: 4,
            areaSkew: [0, 0, 0],
            descs: [{ lo: DATA_AREA, hi: 0, len: 64, flags: DescFlag.WRITE, avail: 'raw', next: 0, id: 0 }],
            availIdx: 1,
            availRing: [0],
            availFlags: 0,
            usedEvent: 0,
            usedIdx: 0,
            driverEvent: [0, 0],
          },
          {
            size: 4,
            areaSkew: [0, 0, 0],
            descs: [],
            availIdx: 0,
            availRing: [],
            availFlags: 0,
            usedEvent: 0,
            usedIdx: 0,
            driverEvent: [0, 0],
          },
        ],
        indirectTables: [],
        words: [],
        actions: [{ kind: 'kick', queue: 0 }],
      };
      const w = world();
      const r = rig(transport, new RngDevice({ fill: (d) => d.fill(0x42) }), w, false, false);
      init(r, s);
      layOut(w.memory, s);
      r.driver.kick(0);
      expect(r.usedInterrupt()).toBe(true);
      expect(w.memory.read16(0xc00 + 2)).toBe(1);
      expect(w.memory.read32(0xc00 + 8)).toBe(64);
      expect(w.memory.read8(DATA_AREA + 63)).toBe(0x42);
    },
  );
});
