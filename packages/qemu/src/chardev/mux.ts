/**
 * QEMU's mux chardev for `-nographic`: one terminal shared by the serial console and the HMP monitor,
 * with the Ctrl-A escape keys. A pure state machine over input bytes; the VMM acts on its outputs.
 */
export const ESCAPE = 0x01; // Ctrl-A

export const MUX_HELP = [
  'C-a h    print this help',
  'C-a x    exit emulator',
  'C-a s    save disk data back to file (if -snapshot)',
  'C-a t    toggle console timestamps',
  'C-a b    send break (magic sysrq)',
  'C-a c    switch between console and monitor',
  'C-a C-a  sends C-a',
].join('\n');

export type MuxFocus = 'serial' | 'monitor';

/** What one chunk of terminal input turned into. */
export interface MuxOutput {
  /** Bytes for the serial port's receiver. */
  readonly serial: number[];
  /** Complete monitor command lines (without the newline). */
  readonly monitorLines: string[];
  /** Text to echo to the terminal (help, the monitor's echo and prompt). */
  readonly echo: string;
  readonly quit: boolean;
  readonly sendBreak: boolean;
  readonly focusChanged: boolean;
}

export class Mux {
  focus: MuxFocus = 'serial';
  private escaped = false;
  private line = '';

  constructor(readonly monitorAttached = true) {}

  feed(bytes: ArrayLike<number>): MuxOutput {
    const serial: number[] = [];
    const monitorLines: string[] = [];
    let echo = '';
    let quit = false;
    let sendBreak = false;
    let focusChanged = false;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.escaped) {
        this.escaped = false;
        const key = String.fromCharCode(b).toLowerCase();
        if (b === ESCAPE) this.deliver(b, serial);
        else if (key === 'x') {
          echo += 'QEMU: Terminated\r\n';
          quit = true;
          break;
        } else if (key === 'h' || b === 0x08) echo += `\r\n${MUX_HELP.replaceAll('\n', '\r\n')}\r\n`;
        else if (key === 'c' && this.monitorAttached) {
          this.focus = this.focus === 'serial' ? 'monitor' : 'serial';
          focusChanged = true;
          if (this.focus === 'monitor') echo += '\r\n(qemu) ';
        } else if (key === 'b') sendBreak = true;
        continue;
      }
      if (b === ESCAPE) {
        this.escaped = true;
        continue;
      }
      if (this.focus === 'serial') this.deliver(b, serial);
      else if (b === 0x0d || b === 0x0a) {
        monitorLines.push(this.line);
        this.line = '';
        echo += '\r\n';
      } else if (b === 0x7f || b === 0x08) {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          echo += '\b \b';
        }
      } else if (b >= 0x20 && b < 0x7f) {
        this.line += String.fromCharCode(b);
        echo += String.fromCharCode(b);
      }
    }
    return { serial, monitorLines, echo, quit, sendBreak, focusChanged };
  }

  private deliver(b: number, serial: number[]): void {
    serial.push(b);
  }
}
