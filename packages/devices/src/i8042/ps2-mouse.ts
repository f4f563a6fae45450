import {
  ACK,
  AUX_DEFAULTS,
  AUX_DISABLE,
  AUX_ENABLE,
  AUX_GET_ID,
  AUX_READ_DATA,
  AUX_RESET,
  AUX_RESET_WRAP,
  AUX_SCALING_1_1,
  AUX_SCALING_2_1,
  AUX_SET_REMOTE,
  AUX_SET_RESOLUTION,
  AUX_SET_SAMPLE_RATE,
  AUX_SET_STREAM,
  AUX_SET_WRAP,
  AUX_STATUS,
  BAT_OK,
  MOUSE_ID_INTELLIMOUSE,
  MOUSE_ID_STANDARD,
  PKT_ALWAYS_1,
  PKT_X_OVERFLOW,
  PKT_X_SIGN,
  PKT_Y_OVERFLOW,
  PKT_Y_SIGN,
  PS2_QUEUE_CAPACITY,
  RESEND,
} from './registers.js';
import type { Ps2MouseState } from './state.js';

/** Mouse buttons as the host reports them (packet byte 0 bits 0-2). */
export const MouseButton = { Left: 1, Right: 2, Middle: 4 } as const;

/**
 * A PS/2 mouse with the IntelliMouse wheel extension (enabled by the sample-rate sequence 200, 100,
 * 80): stream and remote modes, wrap mode, status request, resolution/scaling/sample rate.
 */
export class Ps2Mouse {
  private queue: number[] = [];
  private reporting = false;
  private remote = false;
  private wrap = false;
  private sampleRate = 100;
  private resolution = 2;
  private scaling21 = false;
  private id = MOUSE_ID_STANDARD;
  private rateHistory: number[] = [];
  private pending = 0;
  private buttons = 0;
  private dx = 0;
  private dy = 0;
  private dz = 0;

  constructor(private readonly notify: () => void) {}

  /**
   * Movement from the host: dx right, dy up (PS/2 convention), dz wheel, buttons as
   * {@link MouseButton} bits. Returns false if the packet was not queued.
   */
  move(dx: number, dy: number, dz: number, buttons: number): boolean {
    this.dx += Math.trunc(dx) || 0;
    this.dy += Math.trunc(dy) || 0;
    this.dz += Math.trunc(dz) || 0;
    this.buttons = buttons & 7;
    if (!this.reporting || this.remote || this.wrap) return false;
    return this.enqueue(this.packet());
  }

  /** @internal */
  take(): number {
    return this.queue.shift() ?? -1;
  }

  /** @internal */
  hasData(): boolean {
    return this.queue.length > 0;
  }

  /** @internal A byte the controller forwards to the mouse (command 0xD4). */
  write(byte: number): void {
    this.reply(this.respond(byte));
  }

  private respond(byte: number): readonly number[] {
    const pending = this.pending;
    if (pending !== 0) {
      this.pending = 0;
      if (pending === AUX_SET_RESOLUTION) {
        this.resolution = byte & 3;
      } else {
        this.sampleRate = byte;
        this.rateHistory = [...this.rateHistory, byte].slice(-3);
        if (this.rateHistory.join() === '200,100,80') this.id = MOUSE_ID_INTELLIMOUSE;
      }
      return [ACK];
    }
    if (this.wrap && byte !== AUX_RESET_WRAP && byte !== AUX_RESET) return [byte];
    switch (byte) {
      case AUX_SCALING_1_1:
      case AUX_SCALING_2_1:
        this.scaling21 = byte === AUX_SCALING_2_1;
        return [ACK];
      case AUX_SET_RESOLUTION:
      case AUX_SET_SAMPLE_RATE:
        this.pending = byte;
        return [ACK];
      case AUX_STATUS: {
        const status =
          (this.remote ? 0x40 : 0) |
          (this.reporting ? 0x20 : 0) |
          (this.scaling21 ? 0x10 : 0) |
          ((this.buttons & 1) << 2) |
          ((this.buttons & 4) >> 1) |
          ((this.buttons & 2) >> 1);
        return [ACK, status, this.resolution, this.sampleRate];
      }
      case AUX_SET_STREAM:
        this.remote = false;
        return [ACK];
      case AUX_READ_DATA:
        return [ACK, ...this.packet()];
      case AUX_RESET_WRAP:
        this.wrap = false;
        return [ACK];
      case AUX_SET_WRAP:
        this.wrap = true;
        return [ACK];
      case AUX_SET_REMOTE:
        this.remote = true;
        return [ACK];
      case AUX_GET_ID:
        return [ACK, this.id];
      case AUX_ENABLE:
        this.reporting = true;
        return [ACK];
      case AUX_DISABLE:
        this.reporting = false;
        return [ACK];
      case AUX_DEFAULTS:
        this.setDefaults();
        return [ACK];
      case AUX_RESET:
        this.setDefaults();
        this.id = MOUSE_ID_STANDARD;
        this.wrap = false;
        this.remote = false;
        return [ACK, BAT_OK, MOUSE_ID_STANDARD];
      default:
        return [RESEND];
    }
  }

  getState(): Ps2MouseState {
    return {
      queue: [...this.queue],
      reporting: this.reporting,
      remote: this.remote,
      wrap: this.wrap,
      sampleRate: this.sampleRate,
      resolution: this.resolution,
      scaling21: this.scaling21,
      id: this.id,
      rateHistory: [...this.rateHistory],
      pending: this.pending,
      buttons: this.buttons,
    };
  }

  /** @internal */
  loadState(s: Ps2MouseState): void {
    this.queue = [...s.queue];
    this.reporting = s.reporting;
    this.remote = s.remote;
    this.wrap = s.wrap;
    this.sampleRate = s.sampleRate;
    this.resolution = s.resolution;
    this.scaling21 = s.scaling21;
    this.id = s.id;
    this.rateHistory = [...s.rateHistory];
    this.pending = s.pending;
    this.buttons = s.buttons;
  }

  private setDefaults(): void {
    this.reporting = false;
    this.sampleRate = 100;
    this.resolution = 2;
    this.scaling21 = false;
    this.queue = [];
    this.dx = this.dy = this.dz = 0;
  }

  /** A movement packet for the accumulated motion (9-bit two's complement with overflow flags). */
  private packet(): number[] {
    const clamp = (v: number) => Math.max(-256, Math.min(255, v));
    const x = clamp(this.dx);
    const y = clamp(this.dy);
    let b0 = PKT_ALWAYS_1 | this.buttons;
    if (x < 0) b0 |= PKT_X_SIGN;
    if (y < 0) b0 |= PKT_Y_SIGN;
    if (x !== this.dx) b0 |= PKT_X_OVERFLOW;
    if (y !== this.dy) b0 |= PKT_Y_OVERFLOW;
    const bytes = [b0, x & 0xff, y & 0xff];
    if (this.id === MOUSE_ID_INTELLIMOUSE) bytes.push(Math.max(-8, Math.min(7, this.dz)) & 0xff);
    this.dx = this.dy = this.dz = 0;
    return bytes;
  }

  private reply(bytes: readonly number[]): void {
    this.queue = [...bytes];
    this.notify();
  }

  private enqueue(bytes: readonly number[]): boolean {
    if (this.queue.length + bytes.length > PS2_QUEUE_CAPACITY) return false;
    for (const b of bytes) this.queue.push(b);
    this.notify();
    return true;
  }
}
