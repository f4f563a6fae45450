import { type AccessSize, type IrqLine, NO_IRQ, type PioDevice } from '@typevisor/memory';
import { type A20Line, NO_A20, NO_RESET, type ResetLine } from '../signals.js';
import { translateSet2Byte } from './keymap.js';
import { Ps2Keyboard } from './ps2-keyboard.js';
import { Ps2Mouse } from './ps2-mouse.js';
import {
  CCMD_AUX_DISABLE,
  CCMD_AUX_ENABLE,
  CCMD_AUX_TEST,
  CCMD_DISABLE_A20,
  CCMD_ENABLE_A20,
  CCMD_KBD_DISABLE,
  CCMD_KBD_ENABLE,
  CCMD_KBD_TEST,
  CCMD_PULSE_OUTPUT,
  CCMD_READ_INPUT_PORT,
  CCMD_READ_OUTPUT_PORT,
  CCMD_READ_RAM,
  CCMD_SELF_TEST,
  CCMD_WRITE_AUX,
  CCMD_WRITE_AUX_OBUF,
  CCMD_WRITE_KBD_OBUF,
  CCMD_WRITE_OUTPUT_PORT,
  CCMD_WRITE_RAM,
  CMD_AUX_DISABLE,
  CMD_AUX_INT,
  CMD_KBD_DISABLE,
  CMD_KBD_INT,
  CMD_SYS,
  CMD_TRANSLATE,
  INTERFACE_TEST_OK,
  OUT_A20,
  OUT_AUX_OBF,
  OUT_DEFAULT,
  OUT_KBD_OBF,
  OUT_RESET_N,
  SELF_TEST_OK,
  STATUS_A2,
  STATUS_AUX_OBF,
  STATUS_OBF,
  STATUS_SYS,
  STATUS_UNLOCKED,
} from './registers.js';
import { type I8042State, validateI8042State } from './state.js';

export interface I8042Options {
  /** Keyboard interrupt (ISA IRQ1). */
  readonly irq1?: IrqLine;
  /** Mouse interrupt (ISA IRQ12). */
  readonly irq12?: IrqLine;
  /** Output port bit 1. */
  readonly a20?: A20Line;
  /** Output port bit 0 pulsed low (command 0xFE) or written low (0xD1). */
  readonly reset?: ResetLine;
}

const AUX_FLAG = 0x100;
const CONTROLLER_QUEUE_CAPACITY = 8;

/**
 * An Intel 8042 keyboard controller with a PS/2 keyboard and mouse attached: status and command byte,
 * the controller commands BIOSes and Linux's i8042 driver use, set 2 -> set 1 translation, the output
 * port (A20 and CPU reset) and IRQ1/IRQ12.
 *
 * The data and command ports are not adjacent (0x61 lies between), so insert `dataPort` at 0x60 and
 * `commandPort` at 0x64, one port each. Host input goes through `keyboard.sendKey()` and
 * `mouse.move()`.
 */
export class I8042 {
  readonly keyboard: Ps2Keyboard;
  readonly mouse: Ps2Mouse;
  readonly dataPort: PioDevice;
  readonly commandPort: PioDevice;
  private ram = new Array<number>(32).fill(0);
  private outputPort = OUT_DEFAULT;
  private obf = -1;
  private obfAux = false;
  private lastWasCommand = false;
  private pending = 0;
  private controllerQueue: number[] = [];
  private breakPrefix = false;
  private irq1Level = false;
  private irq12Level = false;
  private readonly irq1: IrqLine;
  private readonly irq12: IrqLine;
  private readonly a20: A20Line;
  private readonly reset: ResetLine;

  constructor(options: I8042Options = {}) {
    this.irq1 = options.irq1 ?? NO_IRQ;
    this.irq12 = options.irq12 ?? NO_IRQ;
    this.a20 = options.a20 ?? NO_A20;
    this.reset = options.reset ?? NO_RESET;
    this.keyboard = new Ps2Keyboard(() => this.refill());
    this.mouse = new Ps2Mouse(() => this.refill());
    this.ram[0] = CMD_KBD_INT | CMD_AUX_INT | CMD_SYS | CMD_TRANSLATE;
    const one = (read: () => number, write: (v: number) => void): PioDevice => ({
      maxAccessSize: 1,
      read: (offset: number) => (offset === 0 ? read() : 0xff),
      write: (offset: number, _size: AccessSize, value: number) => {
        if (offset === 0) write(value & 0xff);
      },
    });
    this.dataPort = one(
      () => this.readData(),
      (v) => this.writeData(v),
    );
    this.commandPort = one(
      () => this.readStatus(),
      (v) => this.writeCommand(v),
    );
  }

  /** The controller command byte (RAM byte 0). */
  get commandByte(): number {
    return this.ram[0]!;
  }

  get a20Enabled(): boolean {
    return (this.outputPort & OUT_A20) !== 0;
  }

  getState(): I8042State {
    return {
      ram: [...this.ram],
      outputPort: this.outputPort,
      obf: this.obf,
      obfAux: this.obfAux,
      lastWasCommand: this.lastWasCommand,
      pending: this.pending,
      controllerQueue: [...this.controllerQueue],
      breakPrefix: this.breakPrefix,
      keyboard: this.keyboard.getState(),
      mouse: this.mouse.getState(),
    };
  }

  static fromState(state: I8042State, options: I8042Options = {}): I8042 {
    validateI8042State(state);
    const c = new I8042(options);
    c.ram = [...state.ram];
    c.outputPort = state.outputPort;
    c.obf = state.obf;
    c.obfAux = state.obfAux;
    c.lastWasCommand = state.lastWasCommand;
    c.pending = state.pending;
    c.controllerQueue = [...state.controllerQueue];
    c.breakPrefix = state.breakPrefix;
    c.keyboard.loadState(state.keyboard);
    c.mouse.loadState(state.mouse);
    c.updateIrq();
    return c;
  }

  private readStatus(): number {
    let s = STATUS_UNLOCKED;
    if (this.obf >= 0) s |= STATUS_OBF;
    if (this.obf >= 0 && this.obfAux) s |= STATUS_AUX_OBF;
    if (this.ram[0]! & CMD_SYS) s |= STATUS_SYS;
    if (this.lastWasCommand) s |= STATUS_A2;
    return s;
  }

  private readData(): number {
    if (this.obf < 0) return 0; // the output buffer latch keeps no value once read
    const v = this.obf;
    this.obf = -1;
    this.refill();
    return v;
  }

  private writeData(value: number): void {
    this.lastWasCommand = false;
    const cmd = this.pending;
    this.pending = 0;
    if (cmd === 0) {
      this.keyboard.write(value);
    } else if (cmd >= CCMD_WRITE_RAM && cmd < CCMD_WRITE_RAM + 0x20) {
      this.ram[cmd - CCMD_WRITE_RAM] = value;
    } else if (cmd === CCMD_WRITE_OUTPUT_PORT) {
      this.writeOutputPort(value);
    } else if (cmd === CCMD_WRITE_KBD_OBUF) {
      this.queueController(value, false);
    } else if (cmd === CCMD_WRITE_AUX_OBUF) {
      this.queueController(value, true);
    } else if (cmd === CCMD_WRITE_AUX) {
      this.mouse.write(value);
    }
    this.refill();
  }

  private writeCommand(cmd: number): void {
    this.lastWasCommand = true;
    this.pending = 0;
    if (cmd >= CCMD_READ_RAM && cmd < CCMD_READ_RAM + 0x20) {
      this.queueController(this.ram[cmd - CCMD_READ_RAM]!, false);
    } else if (cmd >= CCMD_WRITE_RAM && cmd < CCMD_WRITE_RAM + 0x20) {
      this.pending = cmd;
    } else if (cmd >= CCMD_PULSE_OUTPUT) {
      // Bits 3-0 name the output lines pulsed low; line 0 is the CPU reset.
      if (!(cmd & OUT_RESET_N)) this.reset.requestReset();
    } else {
      switch (cmd) {
        case CCMD_AUX_DISABLE:
          this.ram[0]! |= CMD_AUX_DISABLE;
          break;
        case CCMD_AUX_ENABLE:
          this.ram[0]! &= ~CMD_AUX_DISABLE;
          break;
        case CCMD_AUX_TEST:
        case CCMD_KBD_TEST:
          this.queueController(INTERFACE_TEST_OK, false);
          break;
        case CCMD_SELF_TEST:
          this.queueController(SELF_TEST_OK, false);
          break;
        case CCMD_KBD_DISABLE:
          this.ram[0]! |= CMD_KBD_DISABLE;
          break;
        case CCMD_KBD_ENABLE:
          this.ram[0]! &= ~CMD_KBD_DISABLE;
          break;
        case CCMD_READ_INPUT_PORT:
          this.queueController(0x80, false); // bit 7: keyboard not inhibited
          break;
        case CCMD_READ_OUTPUT_PORT:
          this.queueController(this.outputPortValue(), false);
          break;
        case CCMD_WRITE_OUTPUT_PORT:
        case CCMD_WRITE_KBD_OBUF:
        case CCMD_WRITE_AUX_OBUF:
        case CCMD_WRITE_AUX:
          this.pending = cmd;
          break;
        case CCMD_DISABLE_A20:
          this.writeOutputPort(this.outputPort & ~OUT_A20);
          break;
        case CCMD_ENABLE_A20:
          this.writeOutputPort(this.outputPort | OUT_A20);
          break;
        default:
          break; // unknown commands are ignored
      }
    }
    this.refill();
  }

  private outputPortValue(): number {
    let v = this.outputPort & ~(OUT_KBD_OBF | OUT_AUX_OBF);
    if (this.irq1Level) v |= OUT_KBD_OBF;
    if (this.irq12Level) v |= OUT_AUX_OBF;
    return v;
  }

  private writeOutputPort(value: number): void {
    const old = this.outputPort;
    this.outputPort = value | OUT_RESET_N; // reset is a pulse: the line returns high
    if ((old ^ value) & OUT_A20) this.a20.setA20((value & OUT_A20) !== 0);
    if (!(value & OUT_RESET_N)) this.reset.requestReset();
  }

  private queueController(value: number, aux: boolean): void {
    if (this.controllerQueue.length >= CONTROLLER_QUEUE_CAPACITY) return;
    this.controllerQueue.push(value | (aux ? AUX_FLAG : 0));
  }

  /** Fills an empty output buffer: controller replies first, then keyboard, then mouse. */
  private refill(): void {
    if (this.obf < 0) {
      const q = this.controllerQueue.shift();
      if (q !== undefined) {
        this.obf = q & 0xff;
        this.obfAux = (q & AUX_FLAG) !== 0;
      } else if (!(this.ram[0]! & CMD_KBD_DISABLE) && this.keyboard.hasData()) {
        this.obf = this.takeKeyboardByte();
        this.obfAux = false;
      } else if (!(this.ram[0]! & CMD_AUX_DISABLE) && this.mouse.hasData()) {
        this.obf = this.mouse.take();
        this.obfAux = true;
      }
    }
    this.updateIrq();
  }

  private takeKeyboardByte(): number {
    let b = this.keyboard.take();
    if (!(this.ram[0]! & CMD_TRANSLATE)) return b;
    // Translation absorbs the set-2 break prefix and sets bit 7 of the next byte instead.
    while (b === 0xf0 && this.keyboard.hasData()) {
      this.breakPrefix = true;
      b = this.keyboard.take();
    }
    if (b === 0xf0) {
      this.breakPrefix = true;
      return -1;
    }
    const t = translateSet2Byte(b) | (this.breakPrefix ? 0x80 : 0);
    this.breakPrefix = false;
    return t;
  }

  private updateIrq(): void {
    const full = this.obf >= 0;
    const l1 = full && !this.obfAux && (this.ram[0]! & CMD_KBD_INT) !== 0;
    const l12 = full && this.obfAux && (this.ram[0]! & CMD_AUX_INT) !== 0;
    if (l1 !== this.irq1Level) {
      this.irq1Level = l1;
      this.irq1.set(l1);
    }
    if (l12 !== this.irq12Level) {
      this.irq12Level = l12;
      this.irq12.set(l12);
    }
  }
}
