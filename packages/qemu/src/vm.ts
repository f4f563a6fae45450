import type { KvmHost } from '@typevisor/kvm';
import type { ByteSource, Clock } from '@typevisor/memory';
import { type Chardev, describeBackend, isDiscard, isTerminal, type OpenChardev } from './chardev/backend.js';
import { Mux } from './chardev/mux.js';
import { PcMachine } from './machine/pc.js';
import type { StartVcpuThread } from './machine/vcpu-thread.js';
import {
  checkBiosImage,
  cmosBootOrder,
  DEFAULT_BIOS_PATH,
  DEFAULT_VGA_ROM_PATH,
} from './machine/firmware.js';
import { vgaEnabled } from './machine/vga.js';
import { MicrovmMachine } from './machine/microvm.js';
import { pcMonitorTarget } from './machine/monitor-target.js';
import { PciBusError } from './machine/pci-bus.js';
import { type VirtioBackends, VirtioBackendError } from './machine/virtio-devices.js';
import { type LoopState, VcpuLoop } from './machine/vcpu-loop.js';
import { Monitor } from './monitor/hmp.js';
import type { CharBackend, VmConfig } from './options/config.js';
import type { SerialPortIo } from './machine/machine-core.js';
import { VERSION } from './version.js';

/** What a VM needs from the program that hosts it (the CLI in Node, a page in a browser). */
export interface VmHost {
  /** The bytes of a file named on the command line; throws with a message naming it if unreadable. */
  readFile(path: string): Uint8Array;
  /** Text or bytes for the terminal (serial console output, monitor output). */
  write(data: string | Uint8Array): void;
  /** The VM is over: the process (or page) ends with this status. */
  exit(status: number): void;
  readonly clock: Clock;
  /** The host thread the vCPU runs on, for `info cpus`. */
  readonly threadId: number;
  /** Runs `fn` soon, after pending I/O (setImmediate in Node, a MessageChannel in a browser). */
  defer(fn: () => void): void;
  setTimer(fn: () => void, ms: number): void;
  /** The KVM facade to use (a fresh one by default). */
  readonly kvmHost?: KvmHost;
  /** Where `-d` log lines go (the CLI: the `-D` file, else stderr). */
  readonly log?: (text: string) => void;
  /** Disk images, sockets and randomness for virtio devices (`nodeVirtioBackends()` in Node). */
  readonly virtio?: VirtioBackends;
  /**
   * Files and sockets for `-serial file:|tcp:|unix:` and `-debugcon` (`nodeOpenChardev` in Node); a host
   * without it accepts only stdio, null and none.
   */
  readonly openChardev?: OpenChardev;
  /**
   * Runs a vCPU on a host thread of its own (`nodeVcpuThreads()` in Node); without it, or with
   * `-accel kvm,vcpu-thread=off`, KVM_RUN runs in the VMM's thread.
   */
  readonly startVcpuThread?: StartVcpuThread;
}

/** A typed failure to start, with the message the CLI prints. */
export class VmStartError extends Error {
  override readonly name = 'VmStartError';
}

/**
 * The firmware image for a boot without -kernel: `-bios`, else QEMU's default SeaBIOS file. Only `pc`
 * has firmware; a missing default is a one-line error saying what to install.
 */
function readFirmware(config: VmConfig, host: VmHost): Uint8Array {
  if (config.machine !== 'pc')
    throw new VmStartError(`-machine ${config.machine} needs -kernel (it has no firmware)`);
  const path = config.bios ?? DEFAULT_BIOS_PATH;
  let bytes: Uint8Array;
  try {
    bytes = host.readFile(path);
  } catch (e) {
    if (config.bios !== undefined) throw e;
    throw new VmStartError(
      `no -kernel given and no firmware at ${DEFAULT_BIOS_PATH} (apt-get install seabios, or give -bios or -kernel)`,
    );
  }
  const bad = checkBiosImage(path, bytes.length);
  if (bad !== undefined) throw new VmStartError(bad);
  return bytes;
}

/** A file the VM can do without (an option ROM): its bytes, or undefined when the host cannot read it. */
function readOptional(host: VmHost, path: string): Uint8Array | undefined {
  try {
    return host.readFile(path);
  } catch {
    return undefined;
  }
}

/** Exits per slice before yielding to the host's event loop (console input, timers, the monitor). */
const SLICE_EXITS = 2000;
/**
 * Host time per slice too: a KVM_RUN that ends with -EINTR after a slice of guest instructions
 * counts as one exit, so 2000 of them could hold the host's event loop for a minute.
 */
const SLICE_NS = 50_000_000;
/** Terminal input held for COM1 while its FIFO is full; beyond this, typed bytes are dropped. */
const SERIAL_BACKLOG = 1 << 20;

/**
 * Terminal bytes for COM1, pulled by the UART whenever its receive FIFO has room. QEMU reads its
 * chardev only while the serial port can receive (serial_can_receive), so a paste longer than the
 * 16-byte FIFO waits instead of being lost; this queue is that backpressure.
 */
export class SerialInputQueue implements ByteSource {
  private bytes: number[] = [];
  private head = 0;

  /** Queues bytes; those beyond {@link SERIAL_BACKLOG} pending are dropped. */
  push(data: ArrayLike<number>): void {
    const room = SERIAL_BACKLOG - this.pending;
    for (let i = 0; i < data.length && i < room; i++) this.bytes.push(data[i]! & 0xff);
  }

  readByte(): number {
    if (this.head >= this.bytes.length) return -1;
    const b = this.bytes[this.head++]!;
    if (this.head === this.bytes.length) {
      this.bytes = [];
      this.head = 0;
    }
    return b;
  }

  get pending(): number {
    return this.bytes.length - this.head;
  }
}

/**
 * One virtual machine as `qemu-system-x86_64 -nographic` runs it: the `pc` machine, its vCPU loop,
 * the HMP monitor and the Ctrl-A mux on one terminal. Everything host-specific comes through VmHost.
 */
export class VirtualMachine {
  readonly machine: PcMachine | MicrovmMachine;
  readonly loop: VcpuLoop;
  readonly monitor: Monitor;
  readonly mux = new Mux();
  /** Terminal input waiting for COM1 (see {@link SerialInputQueue}). */
  readonly serialIn = new SerialInputQueue();
  /**
   * Settles when every character backend can run (a `server,wait` socket has its client); rejects with
   * a message naming the backend that could not be opened. `start()` may be called before it settles.
   */
  readonly ready: Promise<void>;
  private ended = false;
  /** Whether the character backends and the vCPU thread are ready (see {@link VirtualMachine.ready}). */
  private canRun: boolean;
  /** Whether COM1 is on the terminal (no `-serial`, or `-serial stdio|mon:stdio`). */
  private readonly serialOnTerminal: boolean;
  private readonly chardevs: Chardev[] = [];
  private readonly kernel: Uint8Array | undefined;
  private readonly initrd: Uint8Array | undefined;

  /** Warnings for the command line (QEMU prints them on stderr and runs anyway). */
  readonly warnings: string[] = [];
  readonly config: VmConfig;

  constructor(
    config: VmConfig,
    private readonly host: VmHost,
  ) {
    if (config.smp > 1) {
      // SMP guests need the LAPICs' INIT/SIPI between vCPU threads: not there yet, so the guest gets
      // one vCPU and says so, rather than a firmware table promising CPUs that never start.
      this.warnings.push(`-smp ${config.smp}: SMP guests are not supported yet; the guest gets 1 vCPU`);
      config = { ...config, smp: 1 };
    }
    this.config = config;
    const bios = config.kernel === undefined ? readFirmware(config, host) : undefined;
    // As QEMU: the VGA BIOS is looked up in the firmware directory; without it the VGA stays unset.
    const vgaRom =
      bios !== undefined && vgaEnabled(config) ? readOptional(host, DEFAULT_VGA_ROM_PATH) : undefined;
    this.kernel = config.kernel === undefined ? undefined : host.readFile(config.kernel);
    this.initrd = config.initrd === undefined ? undefined : host.readFile(config.initrd);
    const bootOrder = cmosBootOrder(config.bootOrder ?? 'cad');
    if (typeof bootOrder === 'string') throw new VmStartError(bootOrder);
    // SeaBIOS's log (the debug console, port 0x402) goes to the `-d` log with `-d guest_errors`.
    const debugLog = config.logItems.includes('guest_errors') ? host.log : undefined;
    const terminals = [...config.serial, ...(config.debugcon ? [config.debugcon] : [])].filter(isTerminal);
    if (terminals.length > 1) throw new VmStartError('cannot use stdio by multiple character devices');
    this.serialOnTerminal = config.serial[0] === undefined || isTerminal(config.serial[0]);
    const ready: Promise<void>[] = [];
    const moreSerial = config.serial.slice(1).map((b, i) => this.serialPort(b, '-serial', i + 1, ready));
    const com1: SerialPortIo = this.serialOnTerminal
      ? { output: { writeByte: (b) => host.write(String.fromCharCode(b)) }, input: this.serialIn }
      : this.serialPort(config.serial[0]!, '-serial', 0, ready);
    const debugConsole = config.debugcon && this.serialPort(config.debugcon, '-debugcon', -1, ready).output;
    try {
      this.machine = new (config.machine === 'microvm' ? MicrovmMachine : PcMachine)(
        config,
        {
          serialOut: com1.output,
          ...(com1.input ? { serialIn: com1.input } : {}),
          ...(moreSerial.length > 0 ? { moreSerial } : {}),
          ...(debugConsole ? { debugConsole } : {}),
          clock: host.clock,
          ...(host.log ? { log: host.log } : {}),
          ...(bios ? { bios, bootOrder } : {}),
          ...(vgaRom ? { vgaRom } : {}),
          ...(debugLog ? { debugcon: { writeByte: (b: number) => debugLog(String.fromCharCode(b)) } } : {}),
          virtio: {
            backends: host.virtio ?? {},
            readFile: (path) => host.readFile(path),
            consoleOut: { write: (bytes) => host.write(bytes.slice()) },
            fail: (message) => {
              host.write(`\r\ntypevisor: ${message}\r\n`);
              this.end(1);
            },
          },
        },
        host.kvmHost,
      );
    } catch (e) {
      if (e instanceof VirtioBackendError || e instanceof PciBusError || e instanceof RangeError)
        throw new VmStartError(e.message);
      throw e;
    }
    this.loadKernel();
    const thread = this.startVcpuThread(config, host);
    if (thread !== undefined) ready.push(thread);
    // A monitor `cont` can come before the vCPU thread is ready (-S, typed at once): the run loop
    // waits for it, as a KVM_RUN in this thread meanwhile fails with EBUSY once the thread takes the vCPU.
    this.canRun = ready.length === 0;
    this.ready = Promise.all(ready).then(() => {
      this.canRun = true;
      this.kick();
    });
    this.ready.catch(() => {}); // the host reports it (an unobserved rejection must not end the process)
    this.loop = new VcpuLoop(() => this.machine.runOnce(), {
      noReboot: config.noReboot,
      noShutdown: config.noShutdown,
      reset: () => this.loadKernel(),
    });
    this.monitor = new Monitor(
      pcMonitorTarget(this.machine, this.loop, {
        version: VERSION,
        threadId: host.threadId,
        quit: () => this.end(0),
        powerdown: () => this.powerdown(),
      }),
    );
  }

  /**
   * `system_powerdown`: QEMU's powerdown request presses the ACPI power button of the `pc` machine's
   * PIIX4 PM block (PWRBTN_STS and the SCI on IRQ 9, if the guest enabled the button); the guest
   * decides what to do and the VMM keeps running. Without ACPI (`microvm`, firmware boots, whose board
   * has no PM block here) nothing happens, as in QEMU, where the request then only emits the QMP
   * POWERDOWN event.
   */
  private powerdown(): void {
    if ('acpiPm' in this.machine) this.machine.acpiPm?.pressPowerButton();
    // The SCI may be for a vCPU halted in HLT (the socket monitor does not kick the loop itself).
    this.kick();
  }

  /**
   * One serial port (index 0 = COM1) or the debug console (-1) on `backend`: the terminal, nothing, or
   * a backend the host opens (its input is queued for the UART, which pulls it when its FIFO has room).
   */
  private serialPort(
    backend: CharBackend,
    option: string,
    index: number,
    ready: Promise<void>[],
  ): SerialPortIo {
    const host = this.host;
    if (isTerminal(backend)) return { output: { writeByte: (b) => host.write(String.fromCharCode(b)) } };
    if (isDiscard(backend)) return { output: { writeByte: () => {} } };
    const name = `${option} ${describeBackend(backend)}`;
    if (host.openChardev === undefined) throw new VmStartError(`${name}: this host has no such backend`);
    const queue = new SerialInputQueue();
    let opened: ReturnType<OpenChardev>;
    try {
      opened = host.openChardev(backend, (bytes) => {
        if (index < 0 || this.ended) return; // the debug console is output only
        queue.push(bytes);
        // The machine exists once the first byte can arrive (sockets deliver on a later turn).
        this.machine.isa.serialPorts[index]?.pollInput();
        this.kick();
      });
    } catch (e) {
      throw new VmStartError(`${name}: ${(e as Error).message}`);
    }
    this.chardevs.push(opened.chardev);
    ready.push(
      opened.ready.catch((e: Error) => {
        throw new VmStartError(`${name}: ${e.message}`);
      }),
    );
    const chardev = opened.chardev;
    const one = new Uint8Array(1);
    return {
      output: {
        writeByte: (b) => {
          one[0] = b;
          chardev.write(one);
        },
      },
      input: queue,
    };
  }

  /**
   * Moves vCPU 0 to a thread of its own with `vcpu-thread=on` (with `kernel_irqchip=on` its LAPIC goes
   * along, see `@typevisor/kvm`'s worker irqchip); the promise settles when the thread is ready, before
   * the first KVM_RUN. Off by default: this thread blocks in `runSync()` while the worker runs the
   * guest, so one vCPU gains no parallelism from a thread and pays a futex round trip per exit and a
   * second V8 heap (Debian's 686 kernel, `-m 256`, same loaded machine: 441 s and 364 MiB peak RSS on
   * a worker with the in-kernel irqchip, 863 s with the userspace one, against 385 s and 316 MiB here).
   */
  private startVcpuThread(config: VmConfig, host: VmHost): Promise<void> | undefined {
    const want = config.vcpuThread ?? false;
    if (!want) return undefined;
    if (host.startVcpuThread === undefined)
      throw new VmStartError('-accel vcpu-thread=on: this host cannot run vCPUs on threads of their own');
    const machine = this.machine;
    return host.startVcpuThread(machine.kvm.host, machine.vcpu.fd).then(
      (t) => {
        if (this.ended) {
          void t.terminate();
          return;
        }
        machine.vcpuThread = t;
      },
      (e: Error) => {
        throw new VmStartError(`-accel vcpu-thread=on: cannot start the vCPU thread: ${e.message}`);
      },
    );
  }

  private loadKernel(): void {
    if (this.kernel === undefined && 'bootFirmware' in this.machine) {
      this.machine.bootFirmware();
      return;
    }
    const err = this.machine.loadLinux(this.kernel!, this.initrd, this.config.append);
    if (err !== undefined) throw new VmStartError(`-kernel ${this.config.kernel}: ${err}`);
  }

  /** Starts running (unless -S) and keeps running on the host's event loop. */
  start(): void {
    if (!this.config.startPaused) this.loop.start();
    this.pump();
  }

  /** Runs one monitor command (as from a monitor panel) and resumes the run loop if it should run. */
  command(line: string): string {
    const text = this.monitor.execute(line);
    this.kick();
    return text;
  }

  /** Wakes the run loop after something outside it changed (input, a monitor command, a timer). */
  kick(): void {
    if (this.loop.state === 'waiting') this.loop.wake();
    if (this.loop.state === 'running') this.pump();
  }

  /** Live figures for a UI: exits handled by the VMM, in total and by kind. */
  figures(): { readonly exits: number; readonly exitsByKind: ReadonlyMap<string, number> } {
    return { exits: this.loop.exits, exitsByKind: this.machine.exitCounts };
  }

  /** Terminal input: through the mux to the serial port or the monitor. */
  input(bytes: ArrayLike<number>): void {
    const out = this.mux.feed(bytes);
    if (out.echo !== '') this.host.write(out.echo);
    if (out.serial.length > 0) {
      if (this.serialOnTerminal) this.serialIn.push(out.serial);
      this.machine.com1.pollInput();
      // A virtconsole shares the terminal with the serial port (whichever the guest's shell reads).
      this.machine.virtio.console?.input(Uint8Array.from(out.serial));
    }
    for (const line of out.monitorLines) {
      const text = this.monitor.execute(line);
      this.host.write(`${text === '' ? '' : `${text.replaceAll('\n', '\r\n')}\r\n`}(qemu) `);
      if (this.ended) return;
    }
    if (out.quit) this.end(0);
    // Input may raise an interrupt (UART receive) or a monitor command may have resumed the VM.
    this.kick();
  }

  private pumping = false;

  private pump(): void {
    if (this.pumping || this.ended) return;
    this.pumping = true;
    this.host.defer(() => {
      this.pumping = false;
      this.step();
    });
  }

  private step(): void {
    if (this.ended || !this.canRun) return;
    const until = this.host.clock.nowNs() + SLICE_NS;
    let state: LoopState = this.loop.runSlice(1);
    for (let n = 1; state === 'running' && n < SLICE_EXITS && this.host.clock.nowNs() < until; n++)
      state = this.loop.runSlice(1);
    switch (state) {
      case 'running':
        this.pump();
        return;
      case 'waiting':
        // HLT: sleep until the next timer deadline (or input), then run again.
        this.host.setTimer(() => {
          this.loop.wake();
          this.pump();
        }, this.msUntilNextTimer());
        return;
      case 'shutdown':
        this.end(0);
        return;
      case 'error':
        this.host.write(`\r\ntypevisor: ${this.loop.lastReason}\r\n`);
        this.end(1);
        return;
      default:
        return; // paused, prelaunch, paused-shutdown: the monitor resumes
    }
  }

  private msUntilNextTimer(): number {
    // With kernel_irqchip=on the PIT is the facade's, whose KVM_RUN sleeps until its deadline itself.
    const deadlines = [this.machine.pit?.nextDeadlineNs() ?? null, this.machine.rtc.nextDeadlineNs()].filter(
      (d): d is number => d !== null,
    );
    if (deadlines.length === 0) return 10;
    const ms = (Math.min(...deadlines) - this.host.clock.nowNs()) / 1e6;
    return Math.max(0, Math.min(ms, 10));
  }

  end(status: number): void {
    if (this.ended) return;
    this.ended = true;
    this.machine.virtio.close();
    void this.machine.vcpuThread?.terminate();
    for (const c of this.chardevs) c.close();
    if ('ide' in this.machine) this.machine.ide?.close();
    this.host.exit(status);
  }
}
