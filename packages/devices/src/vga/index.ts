export { Vga, type VgaOptions, type VgaState, type TextScreen, type Framebuffer } from './device.js';
export { renderFrame, type RenderedFrame, type VgaView } from './render.js';
export * as VgaRegs from './registers.js';
