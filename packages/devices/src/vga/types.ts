/** Plain frame descriptions shared by the VGA and its renderer. */

/** What a text-mode frame holds, for a frontend to draw (or a test to read). */
export interface TextScreen {
  readonly cols: number;
  readonly rows: number;
  /** Character codes (code page 437), row-major. */
  readonly chars: Uint8Array;
  /** Attribute bytes (foreground bits 3-0, background bits 6-4, blink/bright bit 7). */
  readonly attrs: Uint8Array;
  /** Cursor cell index, or -1 when hidden or off screen. */
  readonly cursor: number;
}

/** A linear framebuffer as the guest programmed it through VBE. */
export interface Framebuffer {
  readonly width: number;
  readonly height: number;
  readonly bpp: number;
  readonly stride: number;
  /** Bytes of the visible frame (a view of VRAM from the display start). */
  readonly bytes: Uint8Array;
}
