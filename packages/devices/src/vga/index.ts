export { Vga, type VgaOptions, type VgaState, type TextScreen, type Framebuffer } from './device.js';
export {
  displayMode,
  renderFrame,
  renderInto,
  type RenderedFrame,
  type RenderTarget,
  type VgaDisplayKind,
  type VgaDisplayMode,
  type VgaView,
} from './render.js';
export * as VgaRegs from './registers.js';
