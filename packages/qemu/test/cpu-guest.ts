/**
 * Guests for the `-cpu` tests: a vCPU of the KVM facade with the CPUID that `-cpu <arg>` resolves to, in
 * flat 32-bit protected mode (GDT at 0x600, IDT at 0x700 whose #UD handler reports the faulting EIP on
 * port 0x86 and halts), running `program` at {@link CODE}.
 */
import { Kvm, KvmHost, type Vcpu } from '@typevisor/kvm';
import { assemble } from '@typevisor/x86-decoder';
import { checkCpuConfig, resolveCpu } from '../src/options/cpu-model.js';
import { CommandLineError, parseCommandLine } from '../src/options/parse.js';

export const CODE = 0x1000;
export const UD_HANDLER = 0x1800;
/** Where a test puts its operands (inside the 64 KiB of RAM). */
export const DATA = 0x2000;

/** The CPU configuration of the command line `args` (which must be a `run`). */
export function cpuConfigOf(args: string[]) {
  const cmd = parseCommandLine(args);
  if (cmd.action !== 'run') throw new Error('not a run');
  return cmd.config.cpu;
}

/** The message of the CommandLineError that `args` raise; undefined when they parse. */
export function commandLineErrorOf(args: string[]): string | undefined {
  try {
    parseCommandLine(args);
  } catch (e) {
    if (e instanceof CommandLineError) return e.message;
    throw e;
  }
  return undefined;
}

/** `-cpu <arg>` resolved against the facade's KVM_GET_SUPPORTED_CPUID, with QEMU's warnings. */
export function resolvedCpu(cpuArg: string) {
  const cpu = cpuConfigOf(['-cpu', cpuArg]);
  checkCpuConfig(cpu);
  const kvm = Kvm.open(new KvmHost({ tscKhz: 'instructions' }));
  return { kvm, ...resolveCpu(cpu, kvm.getSupportedCpuid()) };
}

/** The guest; `cr4` is loaded as is (0x600 = OSFXSR | OSXMMEXCPT for SSE without guest setup code). */
export function cpuGuest(
  cpuArg: string,
  program: string,
  cr4 = 0,
): { vcpu: Vcpu; ram: Uint8Array; warnings: string[] } {
  const { kvm, cpuid, warnings } = resolvedCpu(cpuArg);
  const vm = kvm.createVm();
  const mem = kvm.host.mmap(0x10000);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x10000, userspaceAddr: mem.addr });
  const ram = mem.bytes;
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  dv.setBigUint64(0x608, 0x00cf9a000000ffffn, true); // code, base 0, 4 GiB, 32-bit
  dv.setBigUint64(0x610, 0x00cf92000000ffffn, true); // data
  // IDT[6]: 32-bit interrupt gate to 08:UD_HANDLER.
  dv.setUint16(0x730, UD_HANDLER, true);
  dv.setUint16(0x732, 0x08, true);
  dv.setUint16(0x734, 0x8e00, true);
  ram.set(assemble(program, { bitness: 32, origin: CODE }), CODE);
  // #UD: report the faulting EIP (pushed by the CPU) on port 0x86, then stop.
  ram.set(assemble('mov eax, [esp]\nout 0x86, eax\nhlt', { bitness: 32, origin: UD_HANDLER }), UD_HANDLER);
  const vcpu = vm.createVcpu(0);
  vcpu.setCpuid2(cpuid);
  const s = vcpu.getSregs();
  for (const name of ['cs', 'ds', 'es', 'fs', 'gs', 'ss'] as const) {
    Object.assign(s[name], {
      base: 0n,
      limit: 0xffffffff,
      selector: name === 'cs' ? 8 : 16,
      type: name === 'cs' ? 11 : 3,
      s: 1,
      present: 1,
      dpl: 0,
      db: 1,
      g: 1,
      l: 0,
      avl: 0,
      unusable: 0,
    });
  }
  s.gdt = { base: 0x600n, limit: 0x17 };
  s.idt = { base: 0x700n, limit: 0x7ff };
  s.cr0 = 0x11n;
  s.cr4 = BigInt(cr4);
  vcpu.setSregs(s);
  vcpu.setRegs({ ...vcpu.getRegs(), rip: BigInt(CODE), rsp: 0x8000n, rflags: 2n });
  return { vcpu, ram, warnings };
}

/** Runs to the next port write and returns [port, value]. */
export function nextOut(vcpu: Vcpu): [number, number] {
  const e = vcpu.runGuest();
  if (e.kind !== 'IoOut') throw new Error(`expected an OUT, got ${e.kind}`);
  const d = new DataView(e.data.buffer, e.data.byteOffset, e.size);
  return [e.port, e.size === 4 ? d.getUint32(0, true) : d.getUint8(0)];
}
