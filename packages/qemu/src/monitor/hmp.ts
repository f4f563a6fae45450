import { evaluate, ExpressionError } from './expression.js';
import { DEFAULT_DUMP, type DumpSpec, dumpLength, formatDump, parseDumpFormat } from './memory-dump.js';
import { formatRegisters } from './registers.js';
import type { CpuSnapshot } from './snapshot.js';

/** Run states as `info status` names them (QEMU's RunState). */
export type VmStatus = 'running' | 'paused' | 'prelaunch' | 'shutdown' | 'internal-error' | 'guest-panicked';

/** What the monitor drives: the machine, through plain calls and snapshots. */
export interface MonitorTarget {
  readonly version: string;
  readonly kvmEnabled: boolean;
  status(): VmStatus;
  stop(): void;
  cont(): void;
  reset(): void;
  powerdown(): void;
  quit(): void;
  cpus(): readonly CpuSnapshot[];
  /** Host thread id of each vCPU, for `info cpus`. */
  cpuThreadId(index: number): number;
  /** Guest bytes at a physical address; unbacked bytes read as 0xff, as on the bus. */
  readPhysical(gpa: number, length: number): Uint8Array;
  /** Guest bytes at a virtual address through `cpu`'s page tables, or undefined if unmapped. */
  readVirtual(cpu: number, gva: number, length: number): Uint8Array | undefined;
  /** Extra `info` subcommands the machine provides (mtree, pci, pic, irq, exits, ...). */
  readonly info: Readonly<Record<string, { readonly help: string; run(): string }>>;
}

interface CommandSpec {
  readonly names: string;
  readonly params: string;
  readonly help: string;
  run(m: Monitor, args: string): string;
}

const statusText: Record<VmStatus, string> = {
  running: 'running',
  paused: 'paused',
  prelaunch: 'paused (prelaunch)',
  shutdown: 'paused (shutdown)',
  'internal-error': 'paused (internal-error)',
  'guest-panicked': 'paused (guest-panicked)',
};

const REG_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];

/** QEMU's HMP monitor: one line in, the text QEMU would print out. */
export class Monitor {
  private dumpSpec: DumpSpec = DEFAULT_DUMP;
  private currentCpu = 0;

  constructor(readonly target: MonitorTarget) {}

  /** Executes one command line; returns what the monitor prints (no trailing newline). */
  execute(line: string): string {
    const text = line.trim();
    if (text === '') return '';
    const name = text.split(/\s+/)[0]!;
    const cmd = findCommand(name);
    if (cmd === undefined) return `unknown command: '${name}'`;
    return cmd.run(this, text.slice(name.length).trim());
  }

  infoNames(): string[] {
    return [...Object.keys(INFO), ...Object.keys(this.target.info)].sort();
  }

  runInfo(sub: string): string {
    const builtin = INFO[sub];
    if (builtin !== undefined) return builtin.run(this);
    const extra = this.target.info[sub];
    return extra === undefined ? `unknown command: 'info ${sub}'` : extra.run();
  }

  infoHelp(): string {
    const lines: string[] = [];
    for (const sub of this.infoNames()) {
      const help = INFO[sub]?.help ?? this.target.info[sub]!.help;
      lines.push(`info ${sub}  -- ${help}`);
    }
    return lines.join('\n');
  }

  dump(args: string, physical: boolean, cmdName: string): string {
    let rest = args;
    let spec = this.dumpSpec;
    if (rest.startsWith('/')) {
      const fmtText = rest.split(/\s+/)[0]!;
      const parsed = parseDumpFormat(fmtText, this.dumpSpec);
      if (typeof parsed === 'string') return `${parsed}\nTry "help ${cmdName}" for more information`;
      spec = parsed;
      rest = rest.slice(fmtText.length);
    }
    let addr: number;
    try {
      const cpu = this.target.cpus()[this.currentCpu];
      const r = evaluate(rest, (reg) => registerValue(cpu, reg));
      if (r.rest !== '') throw new ExpressionError(`invalid char '${r.rest[0]}' in expression`);
      addr = r.value;
    } catch (e) {
      if (e instanceof ExpressionError) return `${e.message}\nTry "help ${cmdName}" for more information`;
      throw e;
    }
    this.dumpSpec = spec;
    const len = dumpLength(spec);
    const bytes = physical
      ? this.target.readPhysical(addr, len)
      : this.target.readVirtual(this.currentCpu, addr, len);
    if (bytes === undefined) return 'Cannot access memory';
    return formatDump(addr, bytes, spec);
  }

  helpText(filter?: string): string {
    if (filter !== undefined && filter !== '') {
      if (filter === 'info') return this.infoHelp();
      const c = findCommand(filter);
      return c === undefined ? `unknown command: '${filter}'` : `${c.names} ${c.params} -- ${c.help}`;
    }
    return COMMANDS.map((c) => `${c.names} ${c.params} -- ${c.help}`).join('\n');
  }
}

function registerValue(cpu: CpuSnapshot | undefined, reg: string): number | undefined {
  if (cpu === undefined) return undefined;
  const i = REG_NAMES.indexOf(reg);
  if (i >= 0) return (cpu.gprs[i] ?? 0) >>> 0;
  if (reg === 'eip' || reg === 'pc' || reg === 'rip') return cpu.rip;
  if (reg === 'eflags') return cpu.rflags;
  if (reg === 'cr0' || reg === 'cr2' || reg === 'cr3' || reg === 'cr4') return cpu.cr[reg];
  return undefined;
}

const INFO: Record<string, { help: string; run(m: Monitor): string }> = {
  version: { help: 'show the version of QEMU', run: (m) => m.target.version },
  kvm: {
    help: 'show KVM information',
    run: (m) => `kvm support: ${m.target.kvmEnabled ? 'enabled' : 'disabled'}`,
  },
  status: {
    help: 'show the current VM status (running|paused)',
    run: (m) => `VM status: ${statusText[m.target.status()]}`,
  },
  registers: {
    help: 'show the cpu registers',
    run: (m) =>
      m.target
        .cpus()
        .map((c) => `\nCPU#${c.index}\n${formatRegisters(c)}`)
        .join('\n'),
  },
  cpus: {
    help: 'show infos for each CPU',
    run: (m) =>
      m.target
        .cpus()
        .map((c, i) => `${i === 0 ? '*' : ' '} CPU #${c.index}: thread_id=${m.target.cpuThreadId(c.index)}`)
        .join('\n'),
  },
};

/** A command that only acts on the machine and prints nothing. */
const action =
  (f: (t: MonitorTarget) => void) =>
  (m: Monitor): string => {
    f(m.target);
    return '';
  };

/** The command table: names (with aliases), parameters, help; `help` is derived from it. */
const COMMANDS: readonly CommandSpec[] = [
  { names: 'help|?', params: '[cmd]', help: 'show the help', run: (m, a) => m.helpText(a) },
  {
    names: 'info',
    params: '[subcommand]',
    help: 'show various information about the system state',
    run: (m, a) => (a === '' ? m.infoHelp() : m.runInfo(a.split(/\s+/)[0]!)),
  },
  {
    names: 'x',
    params: '/fmt addr',
    help: "virtual memory dump starting at 'addr'",
    run: (m, a) => m.dump(a, false, 'x'),
  },
  {
    names: 'xp',
    params: '/fmt addr',
    help: "physical memory dump starting at 'addr'",
    run: (m, a) => m.dump(a, true, 'xp'),
  },
  { names: 'stop|s', params: '', help: 'stop emulation', run: action((t) => t.stop()) },
  { names: 'cont|c', params: '', help: 'resume emulation', run: action((t) => t.cont()) },
  { names: 'system_reset', params: '', help: 'reset the system', run: action((t) => t.reset()) },
  {
    names: 'system_powerdown',
    params: '',
    help: 'send system power down event',
    run: action((t) => t.powerdown()),
  },
  { names: 'quit|q', params: '', help: 'quit the emulator', run: action((t) => t.quit()) },
];

function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.names.split('|').includes(name));
}
