import { describe, expect, it } from 'vitest';
import { consoleForKey } from './keys.js';

describe('console switching keys', () => {
  it("switches like QEMU's Ctrl-Alt-1 / Ctrl-Alt-2", () => {
    expect(consoleForKey({ ctrlKey: true, altKey: true, code: 'Digit1' })).toBe('serial0');
    expect(consoleForKey({ ctrlKey: true, altKey: true, code: 'Digit2' })).toBe('compat_monitor0');
  });

  it('leaves every other key to the terminals', () => {
    expect(consoleForKey({ ctrlKey: true, altKey: false, code: 'Digit2' })).toBeUndefined();
    expect(consoleForKey({ ctrlKey: true, altKey: true, shiftKey: true, code: 'Digit2' })).toBeUndefined();
    expect(consoleForKey({ ctrlKey: true, altKey: true, code: 'Digit3' })).toBeUndefined();
    expect(consoleForKey({ ctrlKey: false, altKey: false, code: 'KeyA' })).toBeUndefined();
  });
});
