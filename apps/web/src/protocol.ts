/**
 * The messages between the page and the VM worker. The page owns the DOM (terminals, controls,
 * chart); the worker owns the VM. Everything crossing is plain data (structured clone), with file
 * bytes and console output transferred, not copied.
 */

/** How often the worker samples the counters for the page's chart. */
export const FIGURES_MS = 500;

/** Page -> worker. */
export type PageMessage =
  /** Start a VM from a qemu-system-x86_64 argument list; `files` holds every file the arguments name. */
  | {
      readonly type: 'boot';
      readonly args: readonly string[];
      readonly files: Readonly<Record<string, Uint8Array>>;
      /** The page's VGA canvas, transferred (`transferControlToOffscreen`); the worker draws on it. */
      readonly screen?: OffscreenCanvas;
    }
  /** Keystrokes for the guest's serial console (COM1). */
  | { readonly type: 'serial'; readonly bytes: Uint8Array }
  /** One HMP monitor command line; the worker answers with a `monitor` message of the same id. */
  | { readonly type: 'monitor'; readonly id: number; readonly line: string };

/** The vCPU loop's state as the page shows it (VcpuLoop's states, plus the two before and after a VM). */
export type RunState =
  | 'prelaunch'
  | 'running'
  | 'waiting'
  | 'paused'
  | 'shutdown'
  | 'paused-shutdown'
  | 'error'
  | 'ended';

/** One sample of the VM's counters; the page turns consecutive samples into rates. */
export interface FigureSample {
  /** Host milliseconds (performance.now() in the worker). */
  readonly t: number;
  /** vCPU loop steps so far (the loop's `exits` counter). */
  readonly exits: number;
  /** Exits to userspace by KVM exit kind (`IoOut`, `Hlt`, `MmioRead`, ...), cumulative. */
  readonly byReason: Readonly<Record<string, number>>;
  /** Guest instructions so far, or null while the KVM facade does not expose a count. */
  readonly instructions: number | null;
}

/** Worker -> page. */
export type WorkerMessage =
  /** Bytes for the serial console (the guest's COM1 output, and the VM's own messages). */
  | { readonly type: 'serial'; readonly bytes: Uint8Array }
  | { readonly type: 'monitor'; readonly id: number; readonly text: string }
  | { readonly type: 'status'; readonly state: RunState; readonly command: string }
  | { readonly type: 'figures'; readonly sample: FigureSample; readonly state: RunState }
  /** The VM could not start (a bad option, an unreadable or non-bootable file), with QEMU-style text. */
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'exit'; readonly status: number };
