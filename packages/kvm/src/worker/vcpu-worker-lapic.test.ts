/**
 * The vCPU-fd ioctls on a worker vCPU's LAPIC (KVM_GET/SET_LAPIC, KVM_GET/SET_MP_STATE, the APIC base
 * of KVM_GET/SET_SREGS) behave as on an in-thread vCPU: each scenario runs once with KVM_RUN in this
 * thread and once with the vCPU in a worker, and both must see the same results.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startVcpuWorker } from '../node/index.js';
import { flatProtectedMode, realModeGuest, type TestGuest } from '../run/guest.test-support.js';
import * as C from '../uapi/constants.js';
import { EBUSY, EINTR } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_lapic_state, kvm_msi, kvm_run, kvm_sregs } from '../uapi/structs.js';
import type { VcpuWorker } from './vcpu-worker.js';

const HLT = 0xf4;
const le32 = (n: number): number[] => [0, 8, 16, 24].map((s) => (n >>> s) & 0xff);
/** mov dword [addr], value (32-bit code). */
const movMem = (addr: number, value: number): number[] => [0xc7, 0x05, ...le32(addr), ...le32(value)];
/** mov eax, [addr]; out port, eax (32-bit code). */
const readOut = (addr: number, port: number): number[] => [0xa1, ...le32(addr), 0xe7, port];
/** mov al,0x55; out 0x81,al. */
const DONE = [0xb0, 0x55, 0xe6, 0x81];
/** IA32_APIC_BASE: the default base with BSP (bit 8), and with the global enable (bit 11). */
const BASE_BSP = 0xfee00100;
const BASE_ENABLED = 0xfee00900;
const REG_ID = 0x20;
const REG_TPR = 0x80;
const REG_SVR = 0xf0;

/** One vCPU's KVM_RUN: in this thread, or in a worker. */
interface Runner {
  readonly g: TestGuest;
  readonly fd: number;
  /** The vCPU's kvm_run mapping. */
  readonly map: Uint8Array;
  run(): Promise<number>;
}

const workers: VcpuWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

const inThread = (g: TestGuest, fd = g.vcpufd, map = g.map): Runner => ({
  g,
  fd,
  map,
  run: async () => g.host.ioctl(fd, I.KVM_RUN, 0),
});

async function inWorker(g: TestGuest, fd = g.vcpufd, map = g.map): Promise<Runner & { w: VcpuWorker }> {
  const w = await startVcpuWorker(g.host, fd);
  workers.push(w);
  return { g, fd, map, w, run: () => w.runIoctl() };
}

/** A flat protected-mode guest running `code` at 0x1000, with the in-kernel irqchip. */
function pmGuest(code: number[], haltWaitNs = 5_000_000): TestGuest {
  const g = realModeGuest(code, { irqchip: true, ramSize: 0x4000, haltWaitNs });
  flatProtectedMode(g, 0x1100, []);
  return g;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function getLapic(r: Runner): Uint8Array {
  const page = allocStruct(kvm_lapic_state);
  expect(r.g.host.ioctl(r.fd, I.KVM_GET_LAPIC, page.bytes)).toBe(0);
  return page.bytes;
}

function mpState(r: Runner): number {
  const b = new Uint8Array(4);
  expect(r.g.host.ioctl(r.fd, I.KVM_GET_MP_STATE, b)).toBe(0);
  return view(b).getUint32(0, true);
}

function setMpState(r: Runner, state: number): number {
  const b = new Uint8Array(4);
  view(b).setUint32(0, state, true);
  return r.g.host.ioctl(r.fd, I.KVM_SET_MP_STATE, b);
}

function apicBaseOf(r: Runner): number {
  const s = allocStruct(kvm_sregs);
  expect(r.g.host.ioctl(r.fd, I.KVM_GET_SREGS, s.bytes)).toBe(0);
  return Number(view(s.bytes).getBigUint64(kvm_sregs.fields.apic_base.offset, true));
}

function setApicBase(r: Runner, base: number): number {
  const s = allocStruct(kvm_sregs);
  expect(r.g.host.ioctl(r.fd, I.KVM_GET_SREGS, s.bytes)).toBe(0);
  view(s.bytes).setBigUint64(kvm_sregs.fields.apic_base.offset, BigInt(base), true);
  return r.g.host.ioctl(r.fd, I.KVM_SET_SREGS, s.bytes);
}

function signalMsi(g: TestGuest, addressLo: number, data: number): number {
  const msi = allocStruct(kvm_msi);
  msi.set('address_lo', addressLo);
  msi.set('data', data);
  return g.host.ioctl(g.vmfd, I.KVM_SIGNAL_MSI, msi.bytes);
}

/** The exit as [exit_reason, port, data] of an I/O exit (data: `size` bytes little-endian). */
function ioExit(r: Runner): number[] {
  const v = view(r.map);
  const port = v.getUint16(RF['io.port'].offset, true);
  const size = v.getUint8(RF['io.size'].offset);
  const off = Number(v.getBigUint64(RF['io.data_offset'].offset, true));
  const data = size === 4 ? v.getUint32(off, true) : size === 2 ? v.getUint16(off, true) : v.getUint8(off);
  return [v.getUint32(RF.exit_reason.offset, true), port, data];
}
const RF = kvm_run.fields;

/** Runs the scenario on an in-thread vCPU and on a worker vCPU; both must give the same record. */
async function sameOnBoth<T>(make: () => TestGuest, scenario: (r: Runner) => Promise<T>): Promise<T> {
  const here = await scenario(inThread(make()));
  const there = await scenario(await inWorker(make()));
  expect(there).toEqual(here);
  return there;
}

describe("a worker vCPU's LAPIC ioctls, as in-thread", () => {
  it('KVM_GET_LAPIC shows the register page the guest programmed, equal to the in-thread one', async () => {
    const code = [
      ...movMem(0xfee000f0, 0x1ff), // SVR: software-enabled, spurious vector 0xff
      ...movMem(0xfee00080, 0x20), // TPR
      ...movMem(0xfee003e0, 0x3), // timer divide by 16
      ...movMem(0xfee00320, 0x10040), // LVT timer: masked, vector 0x40
      ...movMem(0xfee000e0, 0x0fffffff), // DFR: cluster
      ...movMem(0xfee000d0, 0x01000000), // LDR
      ...movMem(0xfee00360, 0x400), // LVT LINT1: NMI
      ...DONE,
      HLT,
    ];
    const seen = await sameOnBoth(
      () => pmGuest(code),
      async (r) => {
        expect(await r.run()).toBe(0);
        expect(ioExit(r)).toEqual([C.KVM_EXIT_IO, 0x81, 0x55]);
        const page = Array.from(getLapic(r));
        const base = apicBaseOf(r);
        // The guest halts: KVM_GET_MP_STATE says so.
        expect(await r.run()).toBe(-EINTR);
        return { page, base, mp: mpState(r) };
      },
    );
    const p = view(Uint8Array.from(seen.page));
    expect([p.getUint32(REG_TPR, true), p.getUint32(REG_SVR, true), p.getUint32(0x320, true)]).toEqual([
      0x20, 0x1ff, 0x10040,
    ]);
    expect([p.getUint32(0xd0, true), p.getUint32(0xe0, true), p.getUint32(0x360, true)]).toEqual([
      0x01000000, 0x0fffffff, 0x400,
    ]);
    expect(seen.base).toBe(BASE_ENABLED);
    expect(seen.mp).toBe(C.KVM_MP_STATE_HALTED);
  }, 60_000);

  it('KVM_SET_LAPIC round-trips through KVM_GET_LAPIC, the guest reads the set ID and TPR, and MSIs follow the ID', async () => {
    const code = [...readOut(0xfee00020, 0x80), ...readOut(0xfee00080, 0x82), HLT];
    const seen = await sameOnBoth(
      () => pmGuest(code, 30e9),
      async (r) => {
        const page = getLapic(r);
        const v = view(page);
        v.setUint32(REG_ID, 5 << 24, true);
        v.setUint32(REG_TPR, 0x30, true);
        v.setUint32(REG_SVR, 0x1ff, true);
        expect(r.g.host.ioctl(r.fd, I.KVM_SET_LAPIC, page)).toBe(0);
        const back = getLapic(r);
        expect(await r.run()).toBe(0);
        const id = ioExit(r);
        expect(await r.run()).toBe(0);
        const tpr = ioExit(r);
        // Deliveries find the LAPIC under its new APIC ID (the vector stays pending: IF is clear).
        const msi = [signalMsi(r.g, 0xfee05000, 0x40), signalMsi(r.g, 0xfee00000, 0x41)];
        return { back: Array.from(back), id, tpr, msi, irr: view(getLapic(r)).getUint32(0x200 + 0x20, true) };
      },
    );
    const back = view(Uint8Array.from(seen.back));
    expect([
      back.getUint32(REG_ID, true),
      back.getUint32(REG_TPR, true),
      back.getUint32(REG_SVR, true),
    ]).toEqual([5 << 24, 0x30, 0x1ff]);
    expect(seen.id).toEqual([C.KVM_EXIT_IO, 0x80, 5 << 24]);
    expect(seen.tpr).toEqual([C.KVM_EXIT_IO, 0x82, 0x30]);
    expect(seen.msi).toEqual([1, 0]);
    // IRR bits 0x40-0x5f: vector 0x40 pending.
    expect(seen.irr).toBe(1);
  }, 60_000);

  it('KVM_GET/SET_LAPIC are -EBUSY while the worker is inside KVM_RUN', async () => {
    const r = await inWorker(pmGuest([HLT], 30e9));
    const running = r.run();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(r.w.running).toBe(true);
    const page = allocStruct(kvm_lapic_state);
    expect(r.g.host.ioctl(r.fd, I.KVM_GET_LAPIC, page.bytes)).toBe(-EBUSY);
    expect(r.g.host.ioctl(r.fd, I.KVM_SET_LAPIC, page.bytes)).toBe(-EBUSY);
    expect(setMpState(r, C.KVM_MP_STATE_INIT_RECEIVED)).toBe(-EBUSY);
    r.w.kick();
    expect(await running).toBe(-EINTR);
    expect(r.g.host.ioctl(r.fd, I.KVM_GET_LAPIC, page.bytes)).toBe(0);
  }, 60_000);

  it('KVM_SET_MP_STATE(INIT_RECEIVED) parks the vCPU until a start-up IPI', async () => {
    // Real mode: 0x1000 is where the guest would go on; a SIPI with vector 2 starts it at 0x2000.
    const make = (): TestGuest => {
      const g = realModeGuest([...DONE, HLT], { irqchip: true, ramSize: 0x4000, haltWaitNs: 5_000_000 });
      g.ram.set([0xb0, 0x77, 0xe6, 0x83, HLT], 0x2000);
      return g;
    };
    const seen = await sameOnBoth(make, async (r) => {
      const set = setMpState(r, C.KVM_MP_STATE_INIT_RECEIVED);
      const parked = [mpState(r), await r.run(), await r.run()];
      const sipi = signalMsi(r.g, 0xfee00000, 0x600 | 2);
      const started = await r.run();
      return { set, parked, sipi, started, exit: ioExit(r), mp: mpState(r) };
    });
    expect(seen).toEqual({
      set: 0,
      parked: [C.KVM_MP_STATE_INIT_RECEIVED, -EINTR, -EINTR],
      sipi: 1,
      started: 0,
      exit: [C.KVM_EXIT_IO, 0x83, 0x77],
      mp: C.KVM_MP_STATE_RUNNABLE,
    });
  }, 60_000);

  it('KVM_SET_MP_STATE(UNINITIALIZED) parks an AP until INIT and SIPI; a lone SIPI is dropped', async () => {
    const make = (): TestGuest => {
      const g = realModeGuest([HLT], { irqchip: true, ramSize: 0x4000, haltWaitNs: 5_000_000 });
      g.ram.set([0xb0, 0x77, 0xe6, 0x83, HLT], 0x2000);
      return g;
    };
    const ap = (g: TestGuest): { fd: number; map: Uint8Array } => {
      const fd = g.host.ioctl(g.vmfd, I.KVM_CREATE_VCPU, 1);
      return { fd, map: g.host.mmap(3 * 4096, fd).bytes };
    };
    const scenario = async (r: Runner): Promise<unknown> => {
      const set = setMpState(r, C.KVM_MP_STATE_UNINITIALIZED);
      const parked = [mpState(r), await r.run()];
      const lone = [signalMsi(r.g, 0xfee01000, 0x600 | 2), await r.run(), mpState(r)];
      const init = [signalMsi(r.g, 0xfee01000, 0x500), await r.run(), mpState(r)];
      const sipi = [signalMsi(r.g, 0xfee01000, 0x600 | 2), await r.run(), mpState(r)];
      return { set, parked, lone, init, sipi, exit: ioExit(r) };
    };
    const gh = make();
    const h = ap(gh);
    const here = await scenario(inThread(gh, h.fd, h.map));
    const gw = make();
    const a = ap(gw);
    const there = await scenario(await inWorker(gw, a.fd, a.map));
    expect(there).toEqual(here);
    expect(there).toEqual({
      set: 0,
      parked: [C.KVM_MP_STATE_UNINITIALIZED, -EINTR],
      lone: [1, -EINTR, C.KVM_MP_STATE_UNINITIALIZED],
      init: [1, -EINTR, C.KVM_MP_STATE_INIT_RECEIVED],
      sipi: [1, 0, C.KVM_MP_STATE_RUNNABLE],
      exit: [C.KVM_EXIT_IO, 0x83, 0x77],
    });
  }, 60_000);

  it('KVM_SET_SREGS with an APIC base that disables the APIC: the guest and deliveries see it', async () => {
    const code = [...readOut(0xfee00030, 0x80), HLT];
    const seen = await sameOnBoth(
      () => pmGuest(code),
      async (r) => {
        const set = setApicBase(r, BASE_BSP);
        const base = apicBaseOf(r);
        // A disabled APIC takes no interrupts.
        const msi = signalMsi(r.g, 0xfee00000, 0x40);
        // Its MMIO window is gone: the read is an MMIO exit to userspace.
        const run = await r.run();
        const v = view(r.map);
        const mmio = [
          v.getUint32(RF.exit_reason.offset, true),
          Number(v.getBigUint64(RF['mmio.phys_addr'].offset, true)),
          v.getUint32(RF['mmio.len'].offset, true),
          v.getUint8(RF['mmio.is_write'].offset),
        ];
        const again = setApicBase(r, BASE_ENABLED);
        return { set, base, msi, run, mmio, again, after: apicBaseOf(r) };
      },
    );
    expect(seen).toEqual({
      set: 0,
      base: BASE_BSP,
      msi: 0,
      run: 0,
      mmio: [C.KVM_EXIT_MMIO, 0xfee00030, 4, 0],
      again: 0,
      after: BASE_ENABLED,
    });
  }, 60_000);
});
