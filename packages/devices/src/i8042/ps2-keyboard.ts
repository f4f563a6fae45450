import { type KeyName, scancodes } from './keymap.js';
import {
  ACK,
  BAT_OK,
  ECHO,
  KBD_DEFAULTS,
  KBD_DISABLE,
  KBD_ECHO,
  KBD_ENABLE,
  KBD_ID,
  KBD_IDENTIFY,
  KBD_RESEND,
  KBD_RESET,
  KBD_SCANCODE_SET,
  KBD_SET_LEDS,
  KBD_TYPEMATIC,
  PS2_QUEUE_CAPACITY,
  RESEND,
} from './registers.js';
import type { Ps2KeyboardState } from './state.js';

/**
 * A PS/2 (MF2) keyboard: scan code sets 1 and 2, the host commands of the IBM PS/2 reference, and a
 * bounded output queue. Key events are queued whole or not at all, so a full queue never splits a
 * multi-byte sequence. `notify` tells the controller that bytes are waiting.
 */
export class Ps2Keyboard {
  private queue: number[] = [];
  private scanning = true;
  private scanSet: 1 | 2 = 2;
  private leds = 0;
  private typematic = 0x2b;
  private pending = 0;
  private lastSent = 0;

  constructor(private readonly notify: () => void) {}

  /**
   * A key event from the host. Returns false when it was dropped (scanning disabled or queue full).
   */
  sendKey(key: KeyName, pressed: boolean): boolean {
    if (!this.scanning) return false;
    return this.enqueue(scancodes(key, pressed, this.scanSet));
  }

  /** Raw bytes from the host, queued as one unit; false if they do not fit. */
  sendScancodes(bytes: readonly number[]): boolean {
    return this.enqueue(bytes.map((b) => b & 0xff));
  }

  get ledState(): number {
    return this.leds;
  }

  get currentScanSet(): 1 | 2 {
    return this.scanSet;
  }

  /** @internal The controller takes the next byte. */
  take(): number {
    const b = this.queue.shift() ?? -1;
    if (b >= 0) this.lastSent = b;
    return b;
  }

  /** @internal */
  hasData(): boolean {
    return this.queue.length > 0;
  }

  /** @internal A byte the controller sends to the keyboard. */
  write(byte: number): void {
    this.reply(this.respond(byte));
  }

  private respond(byte: number): readonly number[] {
    const pending = this.pending;
    if (pending !== 0) {
      this.pending = 0;
      if (pending === KBD_SET_LEDS) {
        this.leds = byte & 7;
        return [ACK];
      }
      if (pending === KBD_TYPEMATIC) {
        this.typematic = byte & 0x7f;
        return [ACK];
      }
      // KBD_SCANCODE_SET: 0 queries, 1 and 2 select; set 3 is not offered.
      if (byte === 0) return [ACK, this.scanSet];
      if (byte === 1 || byte === 2) {
        this.scanSet = byte;
        return [ACK];
      }
      return [RESEND];
    }
    switch (byte) {
      case KBD_SET_LEDS:
      case KBD_TYPEMATIC:
      case KBD_SCANCODE_SET:
        this.pending = byte;
        return [ACK];
      case KBD_ECHO:
        return [ECHO];
      case KBD_IDENTIFY:
        return [ACK, ...KBD_ID];
      case KBD_ENABLE:
        this.scanning = true;
        return [ACK];
      case KBD_DISABLE:
        this.setDefaults();
        this.scanning = false;
        return [ACK];
      case KBD_DEFAULTS:
        this.setDefaults();
        return [ACK];
      case KBD_RESEND:
        return [this.lastSent];
      case KBD_RESET:
        this.setDefaults();
        this.scanning = true;
        this.scanSet = 2;
        this.leds = 0;
        return [ACK, BAT_OK];
      default:
        // 0xF7-0xFD are set-3 key-type commands: acknowledged and ignored.
        return [byte >= 0xf7 && byte <= 0xfd ? ACK : RESEND];
    }
  }

  getState(): Ps2KeyboardState {
    return {
      queue: [...this.queue],
      scanning: this.scanning,
      scanSet: this.scanSet,
      leds: this.leds,
      typematic: this.typematic,
      pending: this.pending,
      lastSent: this.lastSent,
    };
  }

  /** @internal */
  loadState(s: Ps2KeyboardState): void {
    this.queue = [...s.queue];
    this.scanning = s.scanning;
    this.scanSet = s.scanSet === 1 ? 1 : 2;
    this.leds = s.leds;
    this.typematic = s.typematic;
    this.pending = s.pending;
    this.lastSent = s.lastSent;
  }

  private setDefaults(): void {
    this.typematic = 0x2b;
    this.queue = [];
  }

  /** Command replies preempt pending key bytes, as a keyboard stops scanning to answer. */
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
