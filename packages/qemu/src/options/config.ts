/** What the command line asks for: plain data that the machine builders consume. */

export type MachineType = 'pc' | 'microvm';

export interface DriveConfig {
  readonly file: string;
  readonly interface: 'ide' | 'virtio' | 'none';
  readonly media: 'disk' | 'cdrom';
  readonly format: 'raw';
  readonly readonly: boolean;
  readonly snapshot: boolean;
  readonly id: string | undefined;
  readonly index: number | undefined;
}

export interface DeviceConfig {
  readonly driver: string;
  readonly props: ReadonlyMap<string, string>;
}

export interface NetdevConfig {
  readonly type: string;
  readonly id: string;
  readonly props: ReadonlyMap<string, string>;
}

/** A character-device backend (`-serial`, `-monitor`). */
export type CharBackend =
  | { readonly kind: 'stdio' }
  | { readonly kind: 'null' }
  | { readonly kind: 'none' }
  | { readonly kind: 'mon:stdio' }
  | { readonly kind: 'file'; readonly path: string }
  | {
      readonly kind: 'tcp';
      readonly host: string;
      readonly port: number;
      readonly server: boolean;
      readonly wait: boolean;
    }
  | { readonly kind: 'unix'; readonly path: string; readonly server: boolean; readonly wait: boolean };

export interface CpuConfig {
  readonly model: string;
  /** `+feat` / `feat=on` -> true, `-feat` / `feat=off` -> false. */
  readonly features: ReadonlyMap<string, boolean>;
}

export interface VmConfig {
  readonly machine: MachineType;
  /** `ept=off` selects shadow paging. */
  readonly ept: boolean;
  /**
   * `-machine kernel_irqchip=on`: the 8259s, I/O APIC, LAPIC and PIT are the KVM facade's
   * (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2) and devices raise their lines with KVM_IRQ_LINE; off: the
   * VMM's own 8259 pair and 8254, injected with KVM_INTERRUPT.
   */
  readonly kernelIrqchip: boolean;
  /**
   * `-accel kvm,vcpu-thread=on|off` (Typevisor's own property): each vCPU's KVM_RUN in a worker thread
   * of its own, or in the VMM's thread. Undefined: the host's default (worker threads where the host
   * offers them, see `VmHost.startVcpuThread`).
   */
  readonly vcpuThread: boolean | undefined;
  readonly cpu: CpuConfig;
  readonly memoryBytes: number;
  readonly smp: number;
  readonly kernel: string | undefined;
  readonly initrd: string | undefined;
  readonly append: string;
  readonly bios: string | undefined;
  /** `-boot order=` (or `once=`): drive letters a/b floppy, c disk, d CD-ROM, n network; undefined: QEMU's "cad". */
  readonly bootOrder: string | undefined;
  /** `-boot menu=on|off`. */
  readonly bootMenu: boolean;
  readonly drives: readonly DriveConfig[];
  readonly devices: readonly DeviceConfig[];
  readonly netdevs: readonly NetdevConfig[];
  /** `-serial`, one per port in order: COM1 (0x3F8, IRQ 4), COM2 (0x2F8, IRQ 3), COM3, COM4. */
  readonly serial: readonly CharBackend[];
  /** `-debugcon`: QEMU's isa-debugcon at port 0xE9 (what a guest writes there goes to this backend). */
  readonly debugcon: CharBackend | undefined;
  readonly monitor: CharBackend | undefined;
  readonly nographic: boolean;
  /** `-vga std|none`; undefined: std unless -nographic or -nodefaults (see machine/vga.ts). */
  readonly vga: 'std' | 'none' | undefined;
  readonly startPaused: boolean;
  readonly noReboot: boolean;
  readonly noShutdown: boolean;
  readonly noDefaults: boolean;
  readonly snapshot: boolean;
  readonly name: string | undefined;
  readonly logItems: readonly string[];
  readonly logFile: string | undefined;
}

/** What `parseCommandLine` decided to do. */
export type Command =
  | { readonly action: 'run'; readonly config: VmConfig }
  | { readonly action: 'version' }
  | { readonly action: 'help' }
  /** `-d help`: list the log items. */
  | { readonly action: 'log-help' }
  /** `-cpu help`, `-machine help`, `-device help`: a listing to print, then exit 0 (as QEMU). */
  | { readonly action: 'list'; readonly text: string };
