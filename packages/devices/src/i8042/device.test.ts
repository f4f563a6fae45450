// Behaviour checked against the IBM PS/2 Hardware Interface Technical Reference: keyboard controller
// status register, command byte, commands 20h-FFh, the scan code translation table; PS/2 keyboard
// commands EDh-FFh; PS/2 mouse commands E6h-FFh and the 3-byte (4-byte IntelliMouse) packet.
import { FakeIrqLine } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { I8042 } from './device.js';
import { KEYS, type KeyName, scancodes, translateSet2Byte } from './keymap.js';
import * as R from './registers.js';

function make() {
  const irq1 = new FakeIrqLine();
  const irq12 = new FakeIrqLine();
  const events: string[] = [];
  const kbc = new I8042({
    irq1,
    irq12,
    a20: { setA20: (on) => events.push(`a20=${on}`) },
    reset: { requestReset: () => events.push('reset') },
  });
  const cmd = (v: number) => kbc.commandPort.write(0, 1, v);
  const data = (v: number) => kbc.dataPort.write(0, 1, v);
  const status = () => kbc.commandPort.read(0, 1);
  const read = () => kbc.dataPort.read(0, 1);
  const drain = () => {
    const out: number[] = [];
    while (status() & R.STATUS_OBF) out.push(read());
    return out;
  };
  return { kbc, irq1, irq12, events, cmd, data, status, read, drain };
}

describe('i8042 controller', () => {
  it('self test answers 0x55 and the interface tests 0x00', () => {
    const { cmd, drain } = make();
    cmd(R.CCMD_SELF_TEST);
    expect(drain()).toEqual([R.SELF_TEST_OK]);
    cmd(R.CCMD_KBD_TEST);
    cmd(R.CCMD_AUX_TEST);
    expect(drain()).toEqual([0, 0]);
  });

  it('reads and writes the command byte; SYS flag shows in status', () => {
    const { cmd, data, read, status } = make();
    cmd(R.CCMD_WRITE_RAM);
    data(R.CMD_KBD_INT | R.CMD_SYS);
    expect(status() & R.STATUS_A2).toBe(0);
    cmd(R.CCMD_READ_RAM);
    expect(status() & (R.STATUS_OBF | R.STATUS_SYS | R.STATUS_A2)).toBe(
      R.STATUS_OBF | R.STATUS_SYS | R.STATUS_A2,
    );
    expect(read()).toBe(R.CMD_KBD_INT | R.CMD_SYS);
  });

  it('translates set 2 key codes to set 1, folding F0 into bit 7, and raises IRQ1', () => {
    const { kbc, irq1, drain } = make();
    kbc.keyboard.sendKey('KeyA', true);
    expect(irq1.level).toBe(true);
    kbc.keyboard.sendKey('KeyA', false);
    kbc.keyboard.sendKey('ArrowUp', false);
    expect(drain()).toEqual([0x1e, 0x9e, 0xe0, 0xc8]);
    expect(irq1.level).toBe(false);
  });

  it('passes set 2 through untranslated when translation is off', () => {
    const { kbc, cmd, data, drain } = make();
    cmd(R.CCMD_WRITE_RAM);
    data(R.CMD_KBD_INT);
    kbc.keyboard.sendKey('KeyA', true);
    kbc.keyboard.sendKey('KeyA', false);
    expect(drain()).toEqual([0x1c, 0xf0, 0x1c]);
  });

  it('the translation table maps every single-byte set 2 key to its set 1 code', () => {
    for (const name of Object.keys(KEYS) as KeyName[]) {
      const s2 = scancodes(name, true, 2);
      const s1 = scancodes(name, true, 1);
      if (s2.length === s1.length) expect(s2.map(translateSet2Byte), name).toEqual(s1);
    }
  });

  it('keyboard commands: reset, identify, LEDs, scan code set query', () => {
    const { kbc, data, drain } = make();
    data(R.KBD_RESET);
    expect(drain()).toEqual([R.ACK, R.BAT_OK]);
    data(R.KBD_IDENTIFY);
    expect(drain()).toEqual([R.ACK, 0xab, translateSet2Byte(0x83)]); // translated like any byte
    data(R.KBD_SET_LEDS);
    data(0x07);
    expect(drain()).toEqual([R.ACK, R.ACK]);
    expect(kbc.keyboard.ledState).toBe(7);
    data(R.KBD_ECHO);
    expect(drain()).toEqual([R.ECHO]);
    data(0x42);
    expect(drain()).toEqual([R.RESEND]);
  });

  it('disabling scanning drops key events; the disable bit holds data back', () => {
    const { kbc, cmd, data, drain } = make();
    data(R.KBD_DISABLE);
    drain();
    expect(kbc.keyboard.sendKey('KeyB', true)).toBe(false);
    data(R.KBD_ENABLE);
    drain();
    cmd(R.CCMD_KBD_DISABLE);
    kbc.keyboard.sendKey('KeyB', true);
    expect(drain()).toEqual([]);
    cmd(R.CCMD_KBD_ENABLE);
    expect(drain()).toEqual([0x30]);
  });

  it('0xD3 echoes a byte as mouse data with IRQ12 (Linux i8042 AUX loop test)', () => {
    const { irq12, cmd, data, status, read } = make();
    cmd(R.CCMD_WRITE_AUX_OBUF);
    data(0x5a);
    expect(status() & (R.STATUS_OBF | R.STATUS_AUX_OBF)).toBe(R.STATUS_OBF | R.STATUS_AUX_OBF);
    expect(irq12.level).toBe(true);
    expect(read()).toBe(0x5a);
    cmd(R.CCMD_AUX_DISABLE);
    cmd(R.CCMD_READ_RAM);
    expect(read() & R.CMD_AUX_DISABLE).toBe(R.CMD_AUX_DISABLE);
  });

  it('mouse: 0xD4 forwards commands, packets come with AUX_OBF and IRQ12', () => {
    const { kbc, irq12, cmd, data, drain, status } = make();
    cmd(R.CCMD_WRITE_AUX);
    data(R.AUX_RESET);
    expect(drain()).toEqual([R.ACK, R.BAT_OK, 0x00]);
    cmd(R.CCMD_WRITE_AUX);
    data(R.AUX_ENABLE);
    drain();
    kbc.mouse.move(5, -3, 0, 1);
    expect(irq12.level).toBe(true);
    expect(status() & R.STATUS_AUX_OBF).toBe(R.STATUS_AUX_OBF);
    expect(drain()).toEqual([R.PKT_ALWAYS_1 | R.PKT_LEFT | R.PKT_Y_SIGN, 5, 0xfd]);
    expect(irq12.level).toBe(false);
  });

  it('mouse: sample rates 200, 100, 80 unlock the IntelliMouse wheel', () => {
    const { kbc, cmd, data, drain } = make();
    const aux = (v: number) => {
      cmd(R.CCMD_WRITE_AUX);
      data(v);
    };
    for (const rate of [200, 100, 80]) {
      aux(R.AUX_SET_SAMPLE_RATE);
      aux(rate);
    }
    drain();
    aux(R.AUX_GET_ID);
    expect(drain()).toEqual([R.ACK, R.MOUSE_ID_INTELLIMOUSE]);
    aux(R.AUX_ENABLE);
    drain();
    kbc.mouse.move(300, 0, -1, 0);
    expect(drain()).toEqual([R.PKT_ALWAYS_1 | R.PKT_X_OVERFLOW, 0xff, 0, 0xff]);
  });

  it('mouse status request reports mode, buttons, resolution and rate', () => {
    const { cmd, data, drain } = make();
    cmd(R.CCMD_WRITE_AUX);
    data(R.AUX_STATUS);
    expect(drain()).toEqual([R.ACK, 0, 2, 100]);
  });

  it('A20 through the output port and 0xDD/0xDF; 0xFE pulses reset', () => {
    const { kbc, cmd, data, events, drain } = make();
    cmd(R.CCMD_WRITE_OUTPUT_PORT);
    data(R.OUT_DEFAULT & ~R.OUT_A20);
    expect(kbc.a20Enabled).toBe(false);
    cmd(R.CCMD_ENABLE_A20);
    cmd(R.CCMD_READ_OUTPUT_PORT);
    expect(drain()[0]! & R.OUT_A20).toBe(R.OUT_A20);
    cmd(0xfe);
    expect(events).toEqual(['a20=false', 'a20=true', 'reset']);
  });

  it('bounds the keyboard queue and never splits a key sequence', () => {
    const { kbc, cmd, data, drain } = make();
    cmd(R.CCMD_WRITE_RAM);
    data(0); // no translation, no IRQ
    let accepted = 0;
    while (kbc.keyboard.sendKey('PrintScreen', true)) accepted++;
    expect(accepted).toBe(R.PS2_QUEUE_CAPACITY / 4);
    const bytes = drain();
    expect(bytes.length).toBe(R.PS2_QUEUE_CAPACITY);
    expect(bytes.slice(-4)).toEqual([0xe0, 0x12, 0xe0, 0x7c]);
  });

  it('state round-trips through JSON', () => {
    const { kbc } = make();
    kbc.keyboard.sendKey('KeyQ', true);
    kbc.keyboard.sendKey('KeyQ', false);
    const copy = I8042.fromState(JSON.parse(JSON.stringify(kbc.getState())));
    expect(copy.getState()).toEqual(kbc.getState());
    expect(copy.dataPort.read(0, 1)).toBe(0x10);
  });
});
