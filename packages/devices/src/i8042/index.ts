export { I8042, type I8042Options } from './device.js';
export { Ps2Keyboard } from './ps2-keyboard.js';
export { Ps2Mouse, MouseButton } from './ps2-mouse.js';
export { KEYS, type KeyName, type KeyCodes, scancodes, translateSet2Byte } from './keymap.js';
export type { I8042State, Ps2KeyboardState, Ps2MouseState } from './state.js';
export * as I8042Regs from './registers.js';
