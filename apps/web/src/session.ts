import {
  CommandLineError,
  parseCommandLine,
  type PcVga,
  VirtualMachine,
  type VmHost,
  VmStartError,
} from '@typevisor/qemu';
import {
  FIGURES_MS,
  type FigureSample,
  type PageMessage,
  type RunState,
  type WorkerMessage,
} from './protocol.js';
import { SCREEN_FPS, Screen, type ScreenCanvas } from './screen.js';

/** What the session needs from the thread it runs on (a Web Worker in the app, Node in tests). */
export interface SessionEnv {
  post(msg: WorkerMessage, transfer?: Transferable[]): void;
  now(): number;
  /** Runs `fn` soon, after pending messages. */
  defer(fn: () => void): void;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  readonly threadId: number;
  /** Wraps RGBA bytes as an ImageData (the global constructor by default; tests give their own). */
  readonly imageData?: (rgba: Uint8ClampedArray, width: number, height: number) => ImageData;
}

/** Console output is batched into one message per this many milliseconds at most. */
export const FLUSH_MS = 16;

/** Bytes for the console: the VM writes serial bytes as one-char strings (latin-1) and its own text. */
export function consoleBytes(data: string | Uint8Array): Uint8Array {
  if (typeof data !== 'string') return data;
  let latin1 = true;
  for (let i = 0; i < data.length && latin1; i++) latin1 = data.charCodeAt(i) < 0x100;
  if (!latin1) return new TextEncoder().encode(data);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data.charCodeAt(i);
  return out;
}

/**
 * Serial keystrokes for `VirtualMachine.input`, which reads them through QEMU's Ctrl-A mux. The page
 * has its own monitor panel, so the serial console is a plain line: Ctrl-A is doubled ("C-a C-a sends
 * C-a") and reaches the guest unchanged.
 */
export function escapeForMux(bytes: ArrayLike<number>): Uint8Array {
  let n = bytes.length;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x01) n++;
  const out = new Uint8Array(n);
  let j = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    out[j++] = b;
    if (b === 0x01) out[j++] = b;
  }
  return out;
}

/** The counters a running VM offers for the chart (the facade's and the machine's own). */
export interface FigureSource {
  readonly loop: { readonly exits: number };
  readonly machine: {
    /** Exits handled by the VMM, by `VcpuExit` kind. */
    readonly exitCounts: ReadonlyMap<string, number>;
    readonly kvm: {
      readonly host: {
        vcpuRunner(fd: number): { readonly stats: { readonly instructions: number } } | undefined;
      };
    };
    readonly vcpu: { readonly fd: number };
  };
}

/** One sample of a VM's counters: exits by reason, and guest instructions from the vCPU's KVM stats. */
export function sampleFigures(vm: FigureSource | undefined, t: number): FigureSample {
  if (vm === undefined) return { t, exits: 0, byReason: {}, instructions: null };
  const byReason: Record<string, number> = {};
  for (const [kind, n] of vm.machine.exitCounts) byReason[kind] = n;
  const runner = vm.machine.kvm.host.vcpuRunner(vm.machine.vcpu.fd);
  return { t, exits: vm.loop.exits, byReason, instructions: runner?.stats.instructions ?? null };
}

/** The machine's VGA (the `pc` machine's with a display), or null. */
function vgaOf(vm: VirtualMachine | undefined): PcVga | null {
  const m = vm?.machine;
  return m !== undefined && 'vga' in m ? m.vga : null;
}

/**
 * One VM in one worker: builds it from the page's `boot` message with the same parser and
 * `VirtualMachine` the CLI uses, implements its VmHost over messages, and answers console input and
 * monitor commands. No emulation logic: everything machine-specific is @typevisor/qemu's.
 */
export class VmSession {
  vm: VirtualMachine | undefined;
  private pending: Uint8Array[] = [];
  private flushTimer: unknown;
  private figuresTimer: unknown;
  private screenTimer: unknown;
  /** The VGA canvas, when the page gave one and the machine has a VGA. */
  screen: Screen | undefined;
  private ended = false;
  private lastState: RunState | undefined;

  constructor(private readonly env: SessionEnv) {}

  handle(msg: PageMessage): void {
    switch (msg.type) {
      case 'boot':
        this.boot(msg.args, msg.files, msg.screen);
        return;
      case 'serial':
        if (this.vm !== undefined && !this.ended) this.vm.input(escapeForMux(msg.bytes));
        this.flush();
        return;
      case 'monitor':
        this.env.post({ type: 'monitor', id: msg.id, text: this.monitor(msg.line) });
        return;
    }
  }

  /** Runs one monitor command, as typed in the monitor panel or sent by a control (stop, cont, system_reset). */
  monitor(line: string): string {
    const vm = this.vm;
    if (vm === undefined) return 'no machine is running: boot one first';
    if (this.ended) return 'the machine has ended: boot it again';
    const text = vm.monitor.execute(line);
    // No input, but the mux entry point wakes a waiting loop and runs a loop that `cont` resumed.
    if (!this.ended) vm.input(new Uint8Array(0));
    this.flush();
    this.postStatus(line.trim());
    return text;
  }

  get state(): RunState {
    if (this.ended || this.vm === undefined) return 'ended';
    return this.vm.loop.state;
  }

  private boot(
    args: readonly string[],
    files: Readonly<Record<string, Uint8Array>>,
    canvas: ScreenCanvas | undefined,
  ): void {
    if (this.vm !== undefined) {
      this.env.post({ type: 'error', message: 'this worker already runs a machine' });
      return;
    }
    let cmd: ReturnType<typeof parseCommandLine>;
    try {
      cmd = parseCommandLine(args);
    } catch (e) {
      if (e instanceof CommandLineError) {
        this.fail(`typevisor: ${e.message}`);
        return;
      }
      throw e;
    }
    if (cmd.action !== 'run') {
      this.fail(`typevisor: -${cmd.action} does not start a machine`);
      return;
    }
    const names = new Map<string, string>();
    const c = cmd.config;
    if (c.kernel !== undefined) names.set(c.kernel, '-kernel');
    if (c.initrd !== undefined) names.set(c.initrd, '-initrd');
    if (c.kernel === undefined && c.bios !== undefined) names.set(c.bios, '-bios');
    for (const d of c.drives) names.set(d.file, d.media === 'cdrom' ? '-cdrom' : '-drive');
    for (const [name, what] of names) {
      if (files[name] === undefined) {
        this.fail(`typevisor: ${what} ${name}: No such file or directory`);
        return;
      }
    }
    const env = this.env;
    const host: VmHost = {
      readFile: (path) => {
        const bytes = files[path];
        if (bytes === undefined) throw new VmStartError(`${path}: No such file or directory`);
        return bytes;
      },
      write: (data) => this.output(consoleBytes(data)),
      exit: (status) => this.exit(status),
      clock: { nowNs: () => Math.round(env.now() * 1e6) },
      threadId: env.threadId,
      defer: (fn) => env.defer(fn),
      setTimer: (fn, ms) => {
        env.setTimer(fn, ms);
      },
    };
    try {
      this.vm = new VirtualMachine(c, host);
    } catch (e) {
      if (e instanceof VmStartError) {
        this.fail(`typevisor: ${e.message}`);
        return;
      }
      this.fail(`typevisor: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const vga = vgaOf(this.vm);
    if (canvas !== undefined && vga !== null) {
      this.screen = new Screen(canvas, ...(this.env.imageData ? [this.env.imageData] : []));
      this.drawScreen();
    }
    this.vm.start();
    this.postStatus('');
    this.postFigures();
  }

  /** Draws the VGA when it changed, at most SCREEN_FPS times a second, until the machine ends. */
  private drawScreen(): void {
    this.screenTimer = undefined;
    const vga = vgaOf(this.vm);
    if (this.screen === undefined || vga === null || this.ended) return;
    this.screen.draw(vga);
    this.screenTimer = this.env.setTimer(() => this.drawScreen(), 1000 / SCREEN_FPS);
  }

  /** The counters now, for the page's chart. */
  sample(): FigureSample {
    return sampleFigures(this.vm, this.env.now());
  }

  private postFigures(): void {
    this.figuresTimer = undefined;
    this.env.post({ type: 'figures', sample: this.sample(), state: this.state });
    if (this.state !== this.lastState) this.postStatus('');
    if (!this.ended) this.figuresTimer = this.env.setTimer(() => this.postFigures(), FIGURES_MS);
  }

  private postStatus(command: string): void {
    this.lastState = this.state;
    this.env.post({ type: 'status', state: this.state, command });
  }

  private fail(message: string): void {
    this.env.post({ type: 'error', message });
  }

  private output(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.pending.push(bytes);
    if (this.flushTimer === undefined) this.flushTimer = this.env.setTimer(() => this.flush(), FLUSH_MS);
  }

  /** Sends the batched console output now. */
  flush(): void {
    if (this.flushTimer !== undefined) this.env.clearTimer(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    let n = 0;
    for (const p of this.pending) n += p.length;
    const bytes = new Uint8Array(n);
    let o = 0;
    for (const p of this.pending) {
      bytes.set(p, o);
      o += p.length;
    }
    this.pending = [];
    this.env.post({ type: 'serial', bytes }, [bytes.buffer]);
  }

  private exit(status: number): void {
    if (this.ended) return;
    this.ended = true;
    this.flush();
    if (this.figuresTimer !== undefined) this.env.clearTimer(this.figuresTimer);
    if (this.screenTimer !== undefined) this.env.clearTimer(this.screenTimer);
    this.screenTimer = undefined;
    this.env.post({ type: 'figures', sample: this.sample(), state: 'ended' });
    this.postStatus('');
    this.env.post({ type: 'exit', status });
  }
}
