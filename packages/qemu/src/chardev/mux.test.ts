import { describe, expect, it } from 'vitest';
import { MUX_HELP, Mux } from './mux.js';

const bytes = (s: string) => [...s].map((c) => c.charCodeAt(0));

describe('the -nographic mux (Ctrl-A keys)', () => {
  it('passes keys to the serial console by default', () => {
    expect(new Mux().feed(bytes('ls\r')).serial).toEqual(bytes('ls\r'));
  });

  it('quits on C-a x', () => {
    const out = new Mux().feed(bytes('\x01x'));
    expect(out.quit).toBe(true);
    expect(out.echo).toBe('QEMU: Terminated\r\n');
  });

  it('prints the help on C-a h, with the same lines as QEMU', () => {
    const out = new Mux().feed(bytes('\x01h'));
    expect(out.echo).toContain('C-a c    switch between console and monitor');
    expect(MUX_HELP.split('\n')).toHaveLength(7);
  });

  it('sends a literal C-a on C-a C-a', () => {
    expect(new Mux().feed(bytes('\x01\x01')).serial).toEqual([1]);
  });

  it('switches to the monitor on C-a c, collects command lines, and back', () => {
    const mux = new Mux();
    const a = mux.feed(bytes('\x01cinfo statux\x7fs\r'));
    expect(a.focusChanged).toBe(true);
    expect(a.monitorLines).toEqual(['info status']);
    expect(a.serial).toEqual([]);
    expect(a.echo.startsWith('\r\n(qemu) info statux\b \bs')).toBe(true);
    const b = mux.feed(bytes('\x01cls'));
    expect(mux.focus).toBe('serial');
    expect(b.serial).toEqual(bytes('ls'));
  });

  it('keeps an escape split across two reads', () => {
    const mux = new Mux();
    expect(mux.feed([1]).quit).toBe(false);
    expect(mux.feed(bytes('x')).quit).toBe(true);
  });

  it('asks for a break on C-a b', () => {
    expect(new Mux().feed(bytes('\x01b')).sendBreak).toBe(true);
  });
});
