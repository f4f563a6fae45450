import type { VgaFrame } from '@typevisor/qemu';

/** The frames of a VGA as the worker reads them (`PcVga` of @typevisor/qemu). */
export interface FrameSource {
  /** Changes whenever the guest wrote to the card. */
  readonly generation: number;
  render(): VgaFrame;
}

/** The canvas the page handed over (an OffscreenCanvas in the worker). */
export interface ScreenCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { putImageData(image: ImageData, x: number, y: number): void } | null;
}

/** At most this many frames per second reach the canvas. */
export const SCREEN_FPS = 30;

/**
 * Draws a VGA onto a canvas from the worker, whatever its mode: text, 16-colour planar (mode 12h),
 * 256-colour (mode 13h) or a VBE framebuffer, as `PcVga.render()` gives it. A frame is drawn only when
 * the guest changed the card since the last one, and the ImageData wraps the VGA's own reusable
 * buffer, so a still screen costs nothing and a changing one allocates nothing per frame while the
 * mode stays.
 */
export class Screen {
  private image: ImageData | undefined;
  private drawn = -1;
  private context: ReturnType<ScreenCanvas['getContext']> | undefined;
  frames = 0;

  constructor(
    private readonly canvas: ScreenCanvas,
    private readonly newImage: (rgba: Uint8ClampedArray, w: number, h: number) => ImageData = (rgba, w, h) =>
      new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, w, h),
  ) {}

  /** Draws the current frame if the card changed; returns whether it drew. */
  draw(source: FrameSource): boolean {
    if (source.generation === this.drawn) return false;
    this.drawn = source.generation;
    const f = source.render();
    let image = this.image;
    if (
      image === undefined ||
      image.data.buffer !== f.rgba.buffer ||
      image.width !== f.width ||
      image.height !== f.height
    ) {
      // A new mode (or a renderer that does not reuse its buffer): size the canvas and wrap the frame.
      if (this.canvas.width !== f.width) this.canvas.width = f.width;
      if (this.canvas.height !== f.height) this.canvas.height = f.height;
      image = this.newImage(f.rgba, f.width, f.height);
      this.image = image;
    }
    this.context ??= this.canvas.getContext('2d') ?? undefined;
    this.context?.putImageData(image, 0, 0);
    this.frames++;
    return true;
  }
}
