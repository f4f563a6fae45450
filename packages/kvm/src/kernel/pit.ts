/**
 * The in-kernel PIT of KVM_CREATE_PIT2 (arch/x86/kvm/i8254.c): the devices package's 8254 on ports
 * 0x40-0x43, counter 0's output driving GSI 0 of the in-kernel irqchip, and the kvm_pit_state2 bytes of
 * KVM_GET/SET_PIT2. Port 0x61 (speaker, counter 2's gate) stays in userspace.
 */
import { Pit8254, type Pit8254State, type PitChannelState } from '@typevisor/devices';
import type { Clock } from '@typevisor/memory';
import { KVM_PIT_FLAGS_HPET_LEGACY, KVM_PIT_FLAGS_SPEAKER_DATA_ON } from '../uapi/constants.js';
import { kvm_pit_channel_state, kvm_pit_state2 } from '../uapi/structs.js';

const PIT_HZ = 1_193_182;
const CH = kvm_pit_channel_state.fields;
/** RW_STATE_* of i8254.c: which byte of a 16-bit access comes next. */
const RW_STATE_WORD0 = 3;
const RW_STATE_WORD1 = 4;

/** Ticks of the 1.193182 MHz clock at `ns`, exact below 2^53 ns (the product is never formed whole). */
function nsToTicks(ns: number): number {
  const s = Math.floor(ns / 1e9);
  return s * PIT_HZ + Math.floor(((ns - s * 1e9) * PIT_HZ) / 1e9);
}

function ticksToNs(ticks: number): number {
  const s = Math.floor(ticks / PIT_HZ);
  return s * 1e9 + Math.ceil(((ticks - s * PIT_HZ) * 1e9) / PIT_HZ);
}

/** The VM's in-kernel 8254. */
export class KernelPit {
  private pit: Pit8254;
  /** KVM_REINJECT_CONTROL's pit_reinject (1 at creation, as in Linux). */
  reinject = 1;
  flags = 0;

  constructor(
    private readonly clock: Clock,
    private readonly irq0: (level: boolean) => void,
  ) {
    this.pit = new Pit8254({ clock, irq0: { set: irq0 } });
  }

  get device(): Pit8254 {
    return this.pit;
  }

  /** Ports 0x40-0x43 (byte accesses; wider ones read 0 / are dropped, as pit_ioport_read/write). */
  pioRead(port: number, size: number): number | null {
    if (port < 0x40 || port > 0x43) return null;
    return size === 1 ? this.pit.read(port - 0x40, 1) & 0xff : 0;
  }

  pioWrite(port: number, size: number, value: number): boolean {
    if (port < 0x40 || port > 0x43) return false;
    if (size === 1) this.pit.write(port - 0x40, 1, value & 0xff);
    return true;
  }

  poll(): void {
    this.pit.poll();
  }

  nextDeadlineNs(): number | null {
    return this.pit.nextDeadlineNs();
  }

  /** kvm_vm_ioctl_get_pit2(): the three kvm_pit_channel_state and the flags. */
  getState(out: DataView): void {
    for (let i = 0; i < kvm_pit_state2.size; i++) out.setUint8(i, 0);
    const s = this.pit.getState();
    for (let i = 0; i < 3; i++) {
      writeChannel(s.channels[i]!, new DataView(out.buffer, out.byteOffset + i * kvm_pit_channel_state.size));
    }
    out.setUint32(kvm_pit_state2.fields.flags.offset, this.flags, true);
  }

  /**
   * kvm_vm_ioctl_set_pit2(): the channel state from the struct, each count reloaded now
   * (kvm_pit_load_count: count_load_time is taken from the host clock, not from the caller).
   */
  setState(src: DataView): void {
    const now = nsToTicks(this.clock.nowNs());
    const old = this.pit.getState();
    const channels = [0, 1, 2].map((i) =>
      readChannel(
        new DataView(src.buffer, src.byteOffset + i * kvm_pit_channel_state.size),
        old.channels[i]!,
        now,
      ),
    );
    const state: Pit8254State = { channels, lastPollTick: now, irqLevel: old.irqLevel };
    this.pit = Pit8254.fromState(state, { clock: this.clock, irq0: { set: this.irq0 } });
    this.flags =
      src.getUint32(kvm_pit_state2.fields.flags.offset, true) &
      (KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON);
  }
}

function byteState(rw: number, msbNext: boolean): number {
  return rw === 3 ? (msbNext ? RW_STATE_WORD1 : RW_STATE_WORD0) : rw;
}

function writeChannel(c: PitChannelState, v: DataView): void {
  v.setUint32(CH.count.offset, c.reload, true);
  v.setUint16(CH.latched_count.offset, c.latchedCount >= 0 ? c.latchedCount & 0xffff : 0, true);
  v.setUint8(CH.count_latched.offset, c.latchedCount >= 0 ? byteState(c.rw, c.latchMsbNext) : 0);
  v.setUint8(CH.status_latched.offset, c.latchedStatus >= 0 ? 1 : 0);
  v.setUint8(CH.status.offset, Math.max(c.latchedStatus, 0));
  v.setUint8(CH.read_state.offset, byteState(c.rw, c.readMsbNext));
  v.setUint8(CH.write_state.offset, byteState(c.rw, c.writeMsbNext));
  v.setUint8(CH.write_latch.offset, c.pendingLsb);
  v.setUint8(CH.rw_mode.offset, c.rw);
  v.setUint8(CH.mode.offset, c.mode);
  v.setUint8(CH.bcd.offset, c.bcd ? 1 : 0);
  v.setUint8(CH.gate.offset, c.gate ? 1 : 0);
  v.setBigInt64(CH.count_load_time.offset, BigInt(ticksToNs(c.startTick)), true);
}

function readChannel(v: DataView, old: PitChannelState, now: number): PitChannelState {
  let rw = v.getUint8(CH.rw_mode.offset) & 3;
  if (rw === 0) rw = 3;
  const mode = v.getUint8(CH.mode.offset) % 6;
  let count = v.getUint32(CH.count.offset, true) & 0x1ffff;
  if (count === 0 || count > 0x10000) count = 0x10000;
  if ((mode === 2 || mode === 3) && count === 1) count = 2;
  const gate = v.getUint8(CH.gate.offset) !== 0;
  const countLatched = v.getUint8(CH.count_latched.offset);
  const statusLatched = v.getUint8(CH.status_latched.offset) !== 0;
  const levelGated = mode !== 1 && mode !== 5;
  return {
    ...old,
    mode,
    rw,
    bcd: v.getUint8(CH.bcd.offset) !== 0,
    reload: count,
    active: count,
    armed: true,
    counting: true,
    startTick: now,
    pausedTick: !gate && levelGated ? now : -1,
    switchTick: -1,
    gate,
    writeMsbNext: v.getUint8(CH.write_state.offset) === RW_STATE_WORD1,
    pendingLsb: v.getUint8(CH.write_latch.offset),
    readMsbNext: v.getUint8(CH.read_state.offset) === RW_STATE_WORD1,
    latchedCount: countLatched !== 0 ? v.getUint16(CH.latched_count.offset, true) : -1,
    latchMsbNext: countLatched === RW_STATE_WORD1,
    latchedStatus: statusLatched ? v.getUint8(CH.status.offset) : -1,
    nullCount: false,
  };
}
