// Property tests: random guest register sequences against every device, through a real PioBus (which
// splits wide accesses as hardware would), interleaved with virtual time and host input. Properties:
// no exception escapes, and state stays JSON-round-trippable (fromState(JSON(getState())) reproduces
// it). The normal run is a fast seeded subset; set DEVICES_FUZZ_RUNS=N for a long run.
import { Bus, GuestMemory, MmioBus, type PioDevice, PioBus } from '@typevisor/memory';
import { FakeIrqLine, ManualClock, QueueSource } from '@typevisor/memory/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AcpiPm } from './acpi-pm/device.js';
import { IsaDebugExit } from './debug-exit/device.js';
import { FwCfg } from './fw-cfg/device.js';
import { Hpet } from './hpet/device.js';
import { I8042 } from './i8042/device.js';
import { MemoryBlockBackend } from './ide/backend.js';
import { IdeController } from './ide/device.js';
import { IdeDrive } from './ide/drive.js';
import { IoApic } from './ioapic/device.js';
import { KEYS, type KeyName } from './i8042/keymap.js';
import { LocalApic, type LocalApicOptions } from './lapic/device.js';
import { PciConfigSpace } from './pci/config-space.js';
import { PciHost } from './pci/device.js';
import { I440fxHostBridge } from './pci/i440fx.js';
import { Piix3IsaBridge, Piix4PowerManagement } from './pci/piix.js';
import { PicPair } from './pic/device.js';
import { Pit8254 } from './pit/device.js';
import { Mc146818 } from './rtc/device.js';
import { SystemControlPortA, SystemControlPortB } from './system-ports/device.js';
import { RecordingBoard } from './testing/index.js';
import { Uart16550 } from './uart/device.js';
import { Vga } from './vga/device.js';

const RUNS = Number(process.env.DEVICES_FUZZ_RUNS ?? 40);
const SEED = Number(process.env.DEVICES_FUZZ_SEED ?? 0x7e5);

type Op =
  | { kind: 'io'; write: boolean; port: number; size: 1 | 2 | 4; value: number }
  | { kind: 'time'; ns: number }
  | { kind: 'host'; n: number };

interface Harness {
  readonly bus: Bus<PioDevice>;
  readonly ports: readonly number[];
  readonly clock: ManualClock;
  host(n: number): void;
  /** Serializes through JSON, restores into a fresh device and returns both states. */
  roundTrip(): [unknown, unknown];
}

const keyNames = Object.keys(KEYS) as KeyName[];

function harnesses(): Record<string, () => Harness> {
  const base = (ports: number[]) => ({ bus: new PioBus(), clock: new ManualClock(0), ports });
  return {
    uart: () => {
      const h = base([0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff]);
      const input = new QueueSource();
      const dev = new Uart16550({ irq: new FakeIrqLine(), input });
      h.bus.insert(0x3f8, 8, dev);
      return {
        ...h,
        host: (n) => {
          input.push([n & 0xff, (n >> 8) & 0xff]);
          dev.pollInput();
          dev.receive(n >> 16);
          dev.setModemInputs({ cts: (n & 1) === 1, ri: (n & 2) === 2 });
        },
        roundTrip: () => [dev.getState(), Uart16550.fromState(json(dev.getState())).getState()],
      };
    },
    pic: () => {
      const h = base([0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1]);
      const dev = new PicPair({ output: new FakeIrqLine() });
      h.bus.insert(0x20, 2, dev.master);
      h.bus.insert(0xa0, 2, dev.slave);
      h.bus.insert(0x4d0, 2, dev.elcr);
      return {
        ...h,
        host: (n) => {
          dev.setIrq(n & 15, (n & 16) !== 0);
          if (n & 32 && dev.hasInterrupt()) dev.acknowledge();
        },
        roundTrip: () => [dev.getState(), PicPair.fromState(json(dev.getState())).getState()],
      };
    },
    pit: () => {
      const h = base([0x40, 0x41, 0x42, 0x43, 0x61]);
      const dev = new Pit8254({ clock: h.clock, irq0: new FakeIrqLine() });
      const portB = new SystemControlPortB({ timer: dev, clock: h.clock });
      h.bus.insert(0x40, 4, dev);
      h.bus.insert(0x61, 1, portB);
      return {
        ...h,
        host: () => {
          dev.poll();
          const d = dev.nextDeadlineNs();
          if (d !== null) expect(d).toBeGreaterThanOrEqual(0);
        },
        roundTrip: () => [
          [dev.getState(), portB.getState()],
          [
            Pit8254.fromState(json(dev.getState()), { clock: h.clock }).getState(),
            SystemControlPortB.fromState(json(portB.getState()), { timer: dev, clock: h.clock }).getState(),
          ],
        ],
      };
    },
    rtc: () => {
      const h = base([0x70, 0x71, 0x92]);
      const dev = new Mc146818({ clock: h.clock, irq: new FakeIrqLine() });
      const portA = new SystemControlPortA({ a20: new RecordingBoard(), reset: new RecordingBoard() });
      h.bus.insert(0x70, 2, dev);
      h.bus.insert(0x92, 1, portA);
      return {
        ...h,
        host: () => {
          dev.poll();
          dev.nextDeadlineNs();
        },
        roundTrip: () => [
          [dev.getState(), portA.getState()],
          [
            Mc146818.fromState(json(dev.getState()), { clock: h.clock }).getState(),
            SystemControlPortA.fromState(json(portA.getState())).getState(),
          ],
        ],
      };
    },
    i8042: () => {
      const h = base([0x60, 0x64]);
      const board = new RecordingBoard();
      const dev = new I8042({ irq1: new FakeIrqLine(), irq12: new FakeIrqLine(), a20: board, reset: board });
      h.bus.insert(0x60, 1, dev.dataPort);
      h.bus.insert(0x64, 1, dev.commandPort);
      return {
        ...h,
        host: (n) => {
          dev.keyboard.sendKey(keyNames[n % keyNames.length]!, (n & 0x100) !== 0);
          dev.mouse.move((n % 700) - 350, ((n >> 3) % 700) - 350, (n >> 5) % 5, n & 7);
        },
        roundTrip: () => [dev.getState(), I8042.fromState(json(dev.getState())).getState()],
      };
    },
    acpi: () => {
      const h = base([0x600, 0x602, 0x604, 0x608, 0x609, 0x60b, 0x501]);
      const board = new RecordingBoard();
      const dev = new AcpiPm({ clock: h.clock, sci: new FakeIrqLine(), power: board });
      h.bus.insert(0x600, 0x40, dev);
      h.bus.insert(0x501, 2, new IsaDebugExit(board));
      return {
        ...h,
        host: (n) => {
          if (n & 1) dev.pressPowerButton();
          dev.poll();
          dev.nextDeadlineNs();
        },
        roundTrip: () => [
          dev.getState(),
          AcpiPm.fromState(json(dev.getState()), { clock: h.clock }).getState(),
        ],
      };
    },
    pci: () => {
      const h = base([0xcf8, 0xcf9, 0xcfa, 0xcfc, 0xcfd, 0xcfe, 0xcff]);
      const lines = Array.from({ length: 16 }, () => new FakeIrqLine());
      const build = () => {
        const host = new PciHost({ reset: new RecordingBoard() });
        const piix3 = new Piix3IsaBridge({ isaIrq: (n) => lines[n]! });
        const fn = new PciConfigSpace({
          vendorId: 0x1af4,
          deviceId: 0x1000,
          classCode: 0x020000,
          interruptPin: 1,
          intx: piix3.intxLine(3, 1),
          bars: [
            { kind: 'io', size: 32 },
            { kind: 'mem32', size: 4096 },
            { kind: 'mem64', size: 1 << 20 },
          ],
        });
        const parts = [new I440fxHostBridge(), piix3, new Piix4PowerManagement(), fn] as const;
        host.attach(0, 0, parts[0]);
        host.attach(1, 0, parts[1]);
        host.attach(1, 3, parts[2]);
        host.attach(3, 0, parts[3]);
        return { host, parts, fn };
      };
      const a = build();
      h.bus.insert(0xcf8, 8, a.host);
      const snapshot = (x: ReturnType<typeof build>) => ({
        host: x.host.getState(),
        fns: x.parts.map((p) => p.getState()),
      });
      return {
        ...h,
        // Aim the address register at a real function so data accesses reach config space.
        host: (n) => {
          const targets = [0x0000, 0x0800, 0x0b00, 0x1800];
          a.host.write(0, 4, (0x8000_0000 | targets[n & 3]! | ((n >> 2) & 0xfc)) >>> 0);
          a.fn.setIntx((n & 0x400) !== 0);
        },
        roundTrip: () => {
          const s = json(snapshot(a));
          const b = build();
          b.host.loadState(s.host);
          for (const [i, p] of b.parts.entries()) p.loadState(s.fns[i]!);
          return [snapshot(a), snapshot(b)];
        },
      };
    },
    fwcfg: () => {
      const h = base([0x510, 0x511, 0x514, 0x518]);
      const mem = GuestMemory.create(0x10000);
      const build = () => {
        const fw = new FwCfg({ memory: mem });
        fw.addFile('etc/a', new Uint8Array(100).fill(1));
        fw.addFile('etc/rw', new Uint8Array(16), true);
        fw.addU32(0x05, 2);
        return fw;
      };
      const dev = build();
      h.bus.insert(0x510, 12, dev);
      return {
        ...h,
        // Plant a plausible DMA request at 0x1000 so random kicks exercise the transfer paths.
        host: (n) => {
          const req = new DataView(new ArrayBuffer(16));
          req.setUint32(0, ((0x20 + (n & 1)) << 16) | ((n >> 1) & 0x1f));
          req.setUint32(4, (n >> 6) & 0x3ff);
          req.setUint32(12, (n >> 16) * 16);
          mem.writeBytes(0x1000, new Uint8Array(req.buffer));
        },
        roundTrip: () => {
          const b = build();
          b.loadState(json(dev.getState()));
          return [dev.getState(), b.getState()];
        },
      };
    },
    ide: () => {
      const ports = [0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7, 0x3f6];
      const h = base([
        ...ports,
        ...ports.map((p) => p - 0x80),
        0xc000,
        0xc002,
        0xc004,
        0xc008,
        0xc00a,
        0xc00c,
      ]);
      const mem = GuestMemory.create(0x20000);
      const disk = new MemoryBlockBackend(new Uint8Array(64 * 512));
      const iso = new MemoryBlockBackend(new Uint8Array(16 * 2048), true);
      const build = () =>
        new IdeController({
          memory: mem,
          irq14: new FakeIrqLine(),
          irq15: new FakeIrqLine(),
          drives: {
            primaryMaster: new IdeDrive({ kind: 'disk', backend: disk }),
            secondaryMaster: new IdeDrive({ kind: 'cdrom', backend: iso }),
            secondarySlave: new IdeDrive({ kind: 'cdrom', backend: null }),
          },
        });
      const dev = build();
      h.bus.insert(0x1f0, 8, dev.primary.commandBlock);
      h.bus.insert(0x3f6, 1, dev.primary.controlBlock);
      h.bus.insert(0x170, 8, dev.secondary.commandBlock);
      h.bus.insert(0x376, 1, dev.secondary.controlBlock);
      h.bus.insert(0xc000, 16, dev.busMaster);
      return {
        ...h,
        // Point the bus master at a PRD table of random entries, as a guest driver would.
        host: (n) => {
          // Bursts of data-port traffic, so PIO transfers run to completion under random selects.
          if (n & 0x100) {
            const port = n & 1 ? 0x170 : 0x1f0;
            for (let i = 0; i < 256; i++) {
              if (n & 2) h.bus.write(port, 2, i * n);
              else h.bus.read(port, 2);
            }
          }
          dev.busMaster.write(n & 8, 4, 0x8000);
          mem.write32(0x8000, (n >>> 8) & 0x1ffff);
          mem.write32(0x8004, (n & 0xffff) | ((n & 0x80000000) >>> 0));
        },
        roundTrip: () => {
          const b = build();
          b.loadState(json(dev.getState()));
          return [dev.getState(), b.getState()];
        },
      };
    },
    lapic: () => {
      const base = 0xfee0_0000;
      const regs = Array.from({ length: 0x40 }, (_, i) => base + i * 0x10);
      const h = {
        bus: new MmioBus(),
        clock: new ManualClock(0),
        ports: [...regs, base + 0x21, base + 0x302],
      };
      const options: LocalApicOptions = {
        clock: h.clock,
        id: 0,
        bsp: true,
        ipi: { sendIpi: () => {} },
        eoiBroadcast: { eoi: () => {} },
        extInt: { acknowledge: () => 0x20 },
        tsc: { readTsc: () => BigInt(h.clock.nowNs()) * 3n },
        tscHz: 3_000_000_000,
      };
      const dev = new LocalApic(options);
      h.bus.insert(base, 0x1000, dev);
      return {
        ...h,
        host: (n) => {
          const op = n & 7;
          const v = (n >>> 8) & 0xff;
          if (op === 0) dev.accept(v, (n & 0x10000) !== 0);
          else if (op === 1) dev.deliver((n >>> 16) & 7, v, (n >>> 19) & 1);
          else if (op === 2) (n & 8 ? dev.lint1 : dev.lint0).set((n & 0x10) !== 0);
          else if (op === 3) dev.writeApicBase(BigInt(n >>> 3) << 8n);
          else if (op === 4) dev.writeMsr(0x800 + ((n >>> 3) & 0xff), BigInt(n >>> 16));
          else if (op === 5) dev.readMsr(0x800 + ((n >>> 3) & 0xff));
          else if (op === 6) dev.writeTscDeadline(BigInt(n) * 1000n);
          else {
            dev.takeNmi();
            dev.takeInit();
            dev.takeSipi();
          }
          if (dev.hasInterrupt()) expect(dev.acknowledge()).toBeLessThan(256);
          dev.poll();
          const d = dev.nextDeadlineNs();
          if (d !== null) expect(Number.isSafeInteger(d)).toBe(true);
        },
        roundTrip: () => [dev.getState(), LocalApic.fromState(json(dev.getState()), options).getState()],
      };
    },
    ioapic: () => {
      const base = 0xfec0_0000;
      const h = {
        bus: new MmioBus(),
        clock: new ManualClock(0),
        ports: [base, base + 0x10, base + 0x40, base + 0x13],
      };
      const delivery = { deliver: () => true };
      const dev = new IoApic({ delivery });
      h.bus.insert(base, 0x100, dev);
      return {
        ...h,
        host: (n) => {
          dev.setIrq(n % 24, (n & 0x100) !== 0);
          if (n & 0x200) dev.eoi(n >>> 24);
        },
        roundTrip: () => [dev.getState(), IoApic.fromState(json(dev.getState()), { delivery }).getState()],
      };
    },
    hpet: () => {
      const base = 0xfed0_0000;
      const timerRegs = [0, 1, 2, 3].flatMap((t) =>
        [0, 4, 8, 0xc, 0x10].map((r) => base + 0x100 + t * 0x20 + r),
      );
      const general = [0, 4, 0x10, 0x14, 0x20, 0xf0, 0xf4, 0x3fc].map((o) => base + o);
      const h = { bus: new MmioBus(), clock: new ManualClock(0), ports: [...general, ...timerRegs] };
      const options = { clock: h.clock, irq: () => new FakeIrqLine() };
      const dev = new Hpet(options);
      h.bus.insert(base, 0x400, dev);
      return {
        ...h,
        host: () => {
          dev.poll();
          const d = dev.nextDeadlineNs();
          if (d !== null) expect(Number.isSafeInteger(d)).toBe(true);
        },
        roundTrip: () => [dev.getState(), Hpet.fromState(json(dev.getState()), options).getState()],
      };
    },
    vga: () => {
      const vgaPorts = [0x3b4, 0x3b5, 0x3ba, 0x3c0, 0x3c1, 0x3c2, 0x3c4, 0x3c5, 0x3c6, 0x3c7, 0x3c8, 0x3c9];
      const ports = [...vgaPorts, 0x3ca, 0x3cc, 0x3ce, 0x3cf, 0x3d4, 0x3d5, 0x3da, 0x1ce, 0x1cf];
      const window = [
        0xa0000, 0xa0001, 0xa7fff, 0xafffe, 0xb0000, 0xb8000, 0xb8001, 0xbfffe, 0x10_0000, 0x13_fffe,
      ];
      const h = {
        bus: new Bus<PioDevice>(0x20_0000),
        clock: new ManualClock(0),
        ports: [...ports, ...window],
      };
      const dev = new Vga({ vramSize: 256 * 1024 });
      h.bus.insert(0x3b0, 0x30, dev.ioPorts);
      h.bus.insert(0x1ce, 3, dev.vbePorts);
      h.bus.insert(0xa0000, 0x20000, dev.legacyMemory);
      h.bus.insert(0x10_0000, 0x40000, dev.lfb);
      return {
        ...h,
        host: (n) => {
          if (n & 1) dev.setTextMode80x25();
          dev.textScreen();
          dev.framebuffer();
          if ((n & 0xf0) === 0xf0) {
            const f = dev.render();
            expect(f.rgba.length).toBe(f.width * f.height * 4);
          }
          dev.lfb.write(n & 0x3ffff, 4, n);
        },
        roundTrip: () => {
          const b = new Vga({ vramSize: 256 * 1024 });
          b.loadState(json(dev.getState()));
          return [dev.getState(), b.getState()];
        },
      };
    },
  };
}

function json<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

const sizes = fc.constantFrom<1 | 2 | 4>(1, 1, 1, 2, 4);

describe('random register sequences (property)', () => {
  for (const [name, make] of Object.entries(harnesses())) {
    it(`${name}: no exception escapes and state round-trips through JSON`, () => {
      const probe = make();
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        {
          weight: 8,
          arbitrary: fc.record({
            kind: fc.constant('io' as const),
            write: fc.boolean(),
            port: fc.constantFrom(...probe.ports),
            size: sizes,
            value: fc.oneof(fc.nat(0xff), fc.nat(0xffff_ffff), fc.constantFrom(0, 0xff, 0xffff_ffff)),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({ kind: fc.constant('time' as const), ns: fc.nat(2_000_000_000) }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('host' as const), n: fc.nat(0xffff_ffff) }) },
      );
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
          const h = make();
          for (const op of ops) {
            if (op.kind === 'io') {
              if (op.write) h.bus.write(op.port, op.size, op.value);
              else {
                const v = h.bus.read(op.port, op.size);
                expect(v).toBeGreaterThanOrEqual(0);
                expect(v).toBeLessThan(2 ** (8 * op.size));
              }
            } else if (op.kind === 'time') {
              h.clock.advanceNs(op.ns);
            } else {
              h.host(op.n);
            }
          }
          const [before, after] = h.roundTrip();
          expect(JSON.parse(JSON.stringify(before))).toEqual(before);
          expect(after).toEqual(before);
        }),
        { numRuns: RUNS, seed: SEED },
      );
    });
  }
});
