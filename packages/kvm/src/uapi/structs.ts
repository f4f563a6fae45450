/**
 * The x86_64 byte layouts of the KVM ABI structs, from include/uapi/linux/kvm.h and
 * arch/x86/include/uapi/asm/kvm.h (Linux 6.x). Offsets are those the C compiler gives on x86_64;
 * structs.test.ts pins sizes and key offsets to the values the kernel headers produce.
 * Union members share offsets and are spelled `member.field`.
 */
import { defineStruct } from './layout.js';

/** KVM_NR_INTERRUPTS: architectural interrupt vectors, the bits of kvm_sregs.interrupt_bitmap. */
export const KVM_NR_INTERRUPTS = 256;
/** KVM_APIC_REG_SIZE: bytes of kvm_lapic_state. */
export const KVM_APIC_REG_SIZE = 0x400;
export const KVM_IOAPIC_NUM_PINS = 24;
export const KVM_MAX_XCRS = 16;
export const SYNC_REGS_SIZE_BYTES = 2048;

// ---- registers -------------------------------------------------------------------------------------

export const kvm_regs = defineStruct('kvm_regs', 144, {
  rax: [0, 'u64'],
  rbx: [8, 'u64'],
  rcx: [16, 'u64'],
  rdx: [24, 'u64'],
  rsi: [32, 'u64'],
  rdi: [40, 'u64'],
  rsp: [48, 'u64'],
  rbp: [56, 'u64'],
  r8: [64, 'u64'],
  r9: [72, 'u64'],
  r10: [80, 'u64'],
  r11: [88, 'u64'],
  r12: [96, 'u64'],
  r13: [104, 'u64'],
  r14: [112, 'u64'],
  r15: [120, 'u64'],
  rip: [128, 'u64'],
  rflags: [136, 'u64'],
});

export const kvm_segment = defineStruct('kvm_segment', 24, {
  base: [0, 'u64'],
  limit: [8, 'u32'],
  selector: [12, 'u16'],
  type: [14, 'u8'],
  present: [15, 'u8'],
  dpl: [16, 'u8'],
  db: [17, 'u8'],
  s: [18, 'u8'],
  l: [19, 'u8'],
  g: [20, 'u8'],
  avl: [21, 'u8'],
  unusable: [22, 'u8'],
  padding: [23, 'u8'],
});

export const kvm_dtable = defineStruct('kvm_dtable', 16, {
  base: [0, 'u64'],
  limit: [8, 'u16'],
  padding: [10, 'bytes', 6],
});

export const kvm_sregs = defineStruct('kvm_sregs', 312, {
  cs: [0, 'bytes', 24],
  ds: [24, 'bytes', 24],
  es: [48, 'bytes', 24],
  fs: [72, 'bytes', 24],
  gs: [96, 'bytes', 24],
  ss: [120, 'bytes', 24],
  tr: [144, 'bytes', 24],
  ldt: [168, 'bytes', 24],
  gdt: [192, 'bytes', 16],
  idt: [208, 'bytes', 16],
  cr0: [224, 'u64'],
  cr2: [232, 'u64'],
  cr3: [240, 'u64'],
  cr4: [248, 'u64'],
  cr8: [256, 'u64'],
  efer: [264, 'u64'],
  apic_base: [272, 'u64'],
  interrupt_bitmap: [280, 'bytes', 32],
});

export const kvm_sregs2 = defineStruct('kvm_sregs2', 320, {
  cs: [0, 'bytes', 24],
  ds: [24, 'bytes', 24],
  es: [48, 'bytes', 24],
  fs: [72, 'bytes', 24],
  gs: [96, 'bytes', 24],
  ss: [120, 'bytes', 24],
  tr: [144, 'bytes', 24],
  ldt: [168, 'bytes', 24],
  gdt: [192, 'bytes', 16],
  idt: [208, 'bytes', 16],
  cr0: [224, 'u64'],
  cr2: [232, 'u64'],
  cr3: [240, 'u64'],
  cr4: [248, 'u64'],
  cr8: [256, 'u64'],
  efer: [264, 'u64'],
  apic_base: [272, 'u64'],
  flags: [280, 'u64'],
  pdptrs: [288, 'bytes', 32],
});

export const kvm_fpu = defineStruct('kvm_fpu', 416, {
  fpr: [0, 'bytes', 128],
  fcw: [128, 'u16'],
  fsw: [130, 'u16'],
  ftwx: [132, 'u8'],
  pad1: [133, 'u8'],
  last_opcode: [134, 'u16'],
  last_ip: [136, 'u64'],
  last_dp: [144, 'u64'],
  xmm: [152, 'bytes', 256],
  mxcsr: [408, 'u32'],
  pad2: [412, 'u32'],
});

export const kvm_debugregs = defineStruct('kvm_debugregs', 128, {
  db: [0, 'bytes', 32],
  dr6: [32, 'u64'],
  dr7: [40, 'u64'],
  flags: [48, 'u64'],
  reserved: [56, 'bytes', 72],
});

export const kvm_xsave = defineStruct('kvm_xsave', 4096, {
  region: [0, 'bytes', 4096],
});

export const kvm_xcr = defineStruct('kvm_xcr', 16, {
  xcr: [0, 'u32'],
  reserved: [4, 'u32'],
  value: [8, 'u64'],
});

export const kvm_xcrs = defineStruct('kvm_xcrs', 392, {
  nr_xcrs: [0, 'u32'],
  flags: [4, 'u32'],
  xcrs: [8, 'bytes', 16 * KVM_MAX_XCRS],
  padding: [264, 'bytes', 128],
});

export const kvm_lapic_state = defineStruct('kvm_lapic_state', KVM_APIC_REG_SIZE, {
  regs: [0, 'bytes', KVM_APIC_REG_SIZE],
});

// ---- MSRs and CPUID (flexible arrays: `size` is the header) ------------------------------------------

export const kvm_msr_entry = defineStruct('kvm_msr_entry', 16, {
  index: [0, 'u32'],
  reserved: [4, 'u32'],
  data: [8, 'u64'],
});

export const kvm_msrs = defineStruct('kvm_msrs', 8, {
  nmsrs: [0, 'u32'],
  pad: [4, 'u32'],
});

export const kvm_msr_list = defineStruct('kvm_msr_list', 4, {
  nmsrs: [0, 'u32'],
});

export const kvm_cpuid_entry2 = defineStruct('kvm_cpuid_entry2', 40, {
  function: [0, 'u32'],
  index: [4, 'u32'],
  flags: [8, 'u32'],
  eax: [12, 'u32'],
  ebx: [16, 'u32'],
  ecx: [20, 'u32'],
  edx: [24, 'u32'],
  padding: [28, 'bytes', 12],
});

export const kvm_cpuid2 = defineStruct('kvm_cpuid2', 8, {
  nent: [0, 'u32'],
  padding: [4, 'u32'],
});

export const kvm_cpuid_entry = defineStruct('kvm_cpuid_entry', 24, {
  function: [0, 'u32'],
  eax: [4, 'u32'],
  ebx: [8, 'u32'],
  ecx: [12, 'u32'],
  edx: [16, 'u32'],
  padding: [20, 'u32'],
});

export const kvm_cpuid = defineStruct('kvm_cpuid', 8, {
  nent: [0, 'u32'],
  padding: [4, 'u32'],
});

// ---- memory ------------------------------------------------------------------------------------------

export const kvm_userspace_memory_region = defineStruct('kvm_userspace_memory_region', 32, {
  slot: [0, 'u32'],
  flags: [4, 'u32'],
  guest_phys_addr: [8, 'u64'],
  memory_size: [16, 'u64'],
  userspace_addr: [24, 'u64'],
});

export const kvm_userspace_memory_region2 = defineStruct('kvm_userspace_memory_region2', 160, {
  slot: [0, 'u32'],
  flags: [4, 'u32'],
  guest_phys_addr: [8, 'u64'],
  memory_size: [16, 'u64'],
  userspace_addr: [24, 'u64'],
  guest_memfd_offset: [32, 'u64'],
  guest_memfd: [40, 'u32'],
  pad1: [44, 'u32'],
  pad2: [48, 'bytes', 112],
});

export const kvm_dirty_log = defineStruct('kvm_dirty_log', 16, {
  slot: [0, 'u32'],
  padding1: [4, 'u32'],
  /** A host address (from mmap) where the bitmap is written. */
  dirty_bitmap: [8, 'u64'],
});

export const kvm_clear_dirty_log = defineStruct('kvm_clear_dirty_log', 24, {
  slot: [0, 'u32'],
  num_pages: [4, 'u32'],
  first_page: [8, 'u64'],
  dirty_bitmap: [16, 'u64'],
});

export const kvm_coalesced_mmio_zone = defineStruct('kvm_coalesced_mmio_zone', 16, {
  addr: [0, 'u64'],
  size: [8, 'u32'],
  pio: [12, 'u32'],
});

export const kvm_translation = defineStruct('kvm_translation', 24, {
  linear_address: [0, 'u64'],
  physical_address: [8, 'u64'],
  valid: [16, 'u8'],
  writeable: [17, 'u8'],
  usermode: [18, 'u8'],
  pad: [19, 'bytes', 5],
});

// ---- interrupts --------------------------------------------------------------------------------------

export const kvm_interrupt = defineStruct('kvm_interrupt', 4, {
  irq: [0, 'u32'],
});

export const kvm_irq_level = defineStruct('kvm_irq_level', 8, {
  irq: [0, 'u32'],
  status: [0, 's32'],
  level: [4, 'u32'],
});

export const kvm_pic_state = defineStruct('kvm_pic_state', 16, {
  last_irr: [0, 'u8'],
  irr: [1, 'u8'],
  imr: [2, 'u8'],
  isr: [3, 'u8'],
  priority_add: [4, 'u8'],
  irq_base: [5, 'u8'],
  read_reg_select: [6, 'u8'],
  poll: [7, 'u8'],
  special_mask: [8, 'u8'],
  init_state: [9, 'u8'],
  auto_eoi: [10, 'u8'],
  rotate_on_auto_eoi: [11, 'u8'],
  special_fully_nested_mode: [12, 'u8'],
  init4: [13, 'u8'],
  elcr: [14, 'u8'],
  elcr_mask: [15, 'u8'],
});

export const kvm_ioapic_state = defineStruct('kvm_ioapic_state', 24 + 8 * KVM_IOAPIC_NUM_PINS, {
  base_address: [0, 'u64'],
  ioregsel: [8, 'u32'],
  id: [12, 'u32'],
  irr: [16, 'u32'],
  pad: [20, 'u32'],
  redirtbl: [24, 'bytes', 8 * KVM_IOAPIC_NUM_PINS],
});

export const kvm_irqchip = defineStruct('kvm_irqchip', 520, {
  chip_id: [0, 'u32'],
  pad: [4, 'u32'],
  chip: [8, 'bytes', 512],
});

export const kvm_irq_routing_entry = defineStruct('kvm_irq_routing_entry', 48, {
  gsi: [0, 'u32'],
  type: [4, 'u32'],
  flags: [8, 'u32'],
  pad: [12, 'u32'],
  'irqchip.irqchip': [16, 'u32'],
  'irqchip.pin': [20, 'u32'],
  'msi.address_lo': [16, 'u32'],
  'msi.address_hi': [20, 'u32'],
  'msi.data': [24, 'u32'],
  'msi.devid': [28, 'u32'],
  u: [16, 'bytes', 32],
});

export const kvm_irq_routing = defineStruct('kvm_irq_routing', 8, {
  nr: [0, 'u32'],
  flags: [4, 'u32'],
});

export const kvm_msi = defineStruct('kvm_msi', 32, {
  address_lo: [0, 'u32'],
  address_hi: [4, 'u32'],
  data: [8, 'u32'],
  flags: [12, 'u32'],
  devid: [16, 'u32'],
  pad: [20, 'bytes', 12],
});

export const kvm_irqfd = defineStruct('kvm_irqfd', 32, {
  fd: [0, 'u32'],
  gsi: [4, 'u32'],
  flags: [8, 'u32'],
  resamplefd: [12, 'u32'],
  pad: [16, 'bytes', 16],
});

export const kvm_ioeventfd = defineStruct('kvm_ioeventfd', 64, {
  datamatch: [0, 'u64'],
  addr: [8, 'u64'],
  len: [16, 'u32'],
  fd: [20, 's32'],
  flags: [24, 'u32'],
  pad: [28, 'bytes', 36],
});

export const kvm_vcpu_events = defineStruct('kvm_vcpu_events', 64, {
  'exception.injected': [0, 'u8'],
  'exception.nr': [1, 'u8'],
  'exception.has_error_code': [2, 'u8'],
  'exception.pending': [3, 'u8'],
  'exception.error_code': [4, 'u32'],
  'interrupt.injected': [8, 'u8'],
  'interrupt.nr': [9, 'u8'],
  'interrupt.soft': [10, 'u8'],
  'interrupt.shadow': [11, 'u8'],
  'nmi.injected': [12, 'u8'],
  'nmi.pending': [13, 'u8'],
  'nmi.masked': [14, 'u8'],
  'nmi.pad': [15, 'u8'],
  sipi_vector: [16, 'u32'],
  flags: [20, 'u32'],
  'smi.smm': [24, 'u8'],
  'smi.pending': [25, 'u8'],
  'smi.smm_inside_nmi': [26, 'u8'],
  'smi.latched_init': [27, 'u8'],
  'triple_fault.pending': [28, 'u8'],
  reserved: [29, 'bytes', 26],
  exception_has_payload: [55, 'u8'],
  exception_payload: [56, 'u64'],
});

export const kvm_mp_state = defineStruct('kvm_mp_state', 4, {
  mp_state: [0, 'u32'],
});

export const kvm_x86_mce = defineStruct('kvm_x86_mce', 64, {
  status: [0, 'u64'],
  addr: [8, 'u64'],
  misc: [16, 'u64'],
  mcg_status: [24, 'u64'],
  bank: [32, 'u8'],
  pad1: [33, 'bytes', 7],
  pad2: [40, 'bytes', 24],
});

// ---- PIT and clock -----------------------------------------------------------------------------------

export const kvm_pit_config = defineStruct('kvm_pit_config', 64, {
  flags: [0, 'u32'],
  pad: [4, 'bytes', 60],
});

export const kvm_pit_channel_state = defineStruct('kvm_pit_channel_state', 24, {
  count: [0, 'u32'],
  latched_count: [4, 'u16'],
  count_latched: [6, 'u8'],
  status_latched: [7, 'u8'],
  status: [8, 'u8'],
  read_state: [9, 'u8'],
  write_state: [10, 'u8'],
  write_latch: [11, 'u8'],
  rw_mode: [12, 'u8'],
  mode: [13, 'u8'],
  bcd: [14, 'u8'],
  gate: [15, 'u8'],
  count_load_time: [16, 's64'],
});

export const kvm_pit_state = defineStruct('kvm_pit_state', 72, {
  channels: [0, 'bytes', 72],
});

export const kvm_pit_state2 = defineStruct('kvm_pit_state2', 112, {
  channels: [0, 'bytes', 72],
  flags: [72, 'u32'],
  reserved: [76, 'bytes', 36],
});

export const kvm_reinject_control = defineStruct('kvm_reinject_control', 32, {
  pit_reinject: [0, 'u8'],
  reserved: [1, 'bytes', 31],
});

export const kvm_clock_data = defineStruct('kvm_clock_data', 48, {
  clock: [0, 'u64'],
  flags: [8, 'u32'],
  pad0: [12, 'u32'],
  realtime: [16, 'u64'],
  host_tsc: [24, 'u64'],
  pad: [32, 'bytes', 16],
});

// ---- debugging, capabilities, devices ----------------------------------------------------------------

export const kvm_debug_exit_arch = defineStruct('kvm_debug_exit_arch', 32, {
  exception: [0, 'u32'],
  pad: [4, 'u32'],
  pc: [8, 'u64'],
  dr6: [16, 'u64'],
  dr7: [24, 'u64'],
});

export const kvm_guest_debug = defineStruct('kvm_guest_debug', 72, {
  control: [0, 'u32'],
  pad: [4, 'u32'],
  /** kvm_guest_debug_arch: u64 debugreg[8]. */
  debugreg: [8, 'bytes', 64],
});

export const kvm_enable_cap = defineStruct('kvm_enable_cap', 104, {
  cap: [0, 'u32'],
  flags: [4, 'u32'],
  args0: [8, 'u64'],
  args1: [16, 'u64'],
  args2: [24, 'u64'],
  args3: [32, 'u64'],
  pad: [40, 'bytes', 64],
});

export const kvm_tpr_access_ctl = defineStruct('kvm_tpr_access_ctl', 40, {
  enabled: [0, 'u32'],
  flags: [4, 'u32'],
  reserved: [8, 'bytes', 32],
});

export const kvm_vapic_addr = defineStruct('kvm_vapic_addr', 8, {
  vapic_addr: [0, 'u64'],
});

export const kvm_signal_mask = defineStruct('kvm_signal_mask', 4, {
  len: [0, 'u32'],
});

export const kvm_one_reg = defineStruct('kvm_one_reg', 16, {
  id: [0, 'u64'],
  addr: [8, 'u64'],
});

export const kvm_create_device = defineStruct('kvm_create_device', 12, {
  type: [0, 'u32'],
  fd: [4, 'u32'],
  flags: [8, 'u32'],
});

export const kvm_device_attr = defineStruct('kvm_device_attr', 24, {
  flags: [0, 'u32'],
  group: [4, 'u32'],
  attr: [8, 'u64'],
  addr: [16, 'u64'],
});

export const kvm_msr_filter = defineStruct('kvm_msr_filter', 392, {
  flags: [0, 'u32'],
  ranges: [8, 'bytes', 384],
});

export const kvm_nested_state = defineStruct('kvm_nested_state', 128, {
  flags: [0, 'u16'],
  format: [2, 'u16'],
  size: [4, 'u32'],
  hdr: [8, 'bytes', 120],
});

// ---- kvm_run -----------------------------------------------------------------------------------------

/** Offset of the exit-reason union inside kvm_run. */
export const KVM_RUN_UNION_OFFSET = 32;

/** struct kvm_run: the page shared between KVM_RUN and userspace (mmap(vcpu_fd, 0)). */
export const kvm_run = defineStruct('kvm_run', 2352, {
  request_interrupt_window: [0, 'u8'],
  immediate_exit: [1, 'u8'],
  padding1: [2, 'bytes', 6],
  exit_reason: [8, 'u32'],
  ready_for_interrupt_injection: [12, 'u8'],
  if_flag: [13, 'u8'],
  flags: [14, 'u16'],
  cr8: [16, 'u64'],
  apic_base: [24, 'u64'],
  // KVM_EXIT_UNKNOWN
  'hw.hardware_exit_reason': [32, 'u64'],
  // KVM_EXIT_FAIL_ENTRY
  'fail_entry.hardware_entry_failure_reason': [32, 'u64'],
  'fail_entry.cpu': [40, 'u32'],
  // KVM_EXIT_EXCEPTION
  'ex.exception': [32, 'u32'],
  'ex.error_code': [36, 'u32'],
  // KVM_EXIT_IO
  'io.direction': [32, 'u8'],
  'io.size': [33, 'u8'],
  'io.port': [34, 'u16'],
  'io.count': [36, 'u32'],
  'io.data_offset': [40, 'u64'],
  // KVM_EXIT_DEBUG (struct kvm_debug_exit_arch)
  'debug.arch.exception': [32, 'u32'],
  'debug.arch.pad': [36, 'u32'],
  'debug.arch.pc': [40, 'u64'],
  'debug.arch.dr6': [48, 'u64'],
  'debug.arch.dr7': [56, 'u64'],
  // KVM_EXIT_MMIO
  'mmio.phys_addr': [32, 'u64'],
  'mmio.data': [40, 'bytes', 8],
  'mmio.len': [48, 'u32'],
  'mmio.is_write': [52, 'u8'],
  // KVM_EXIT_HYPERCALL
  'hypercall.nr': [32, 'u64'],
  'hypercall.args': [40, 'bytes', 48],
  'hypercall.ret': [88, 'u64'],
  'hypercall.longmode': [96, 'u32'],
  'hypercall.flags': [96, 'u64'],
  // KVM_EXIT_TPR_ACCESS
  'tpr_access.rip': [32, 'u64'],
  'tpr_access.is_write': [40, 'u32'],
  'tpr_access.pad': [44, 'u32'],
  // KVM_EXIT_INTERNAL_ERROR
  'internal.suberror': [32, 'u32'],
  'internal.ndata': [36, 'u32'],
  'internal.data': [40, 'bytes', 128],
  // KVM_INTERNAL_ERROR_EMULATION overlay
  'emulation_failure.suberror': [32, 'u32'],
  'emulation_failure.ndata': [36, 'u32'],
  'emulation_failure.flags': [40, 'u64'],
  'emulation_failure.insn_size': [48, 'u8'],
  'emulation_failure.insn_bytes': [49, 'bytes', 15],
  // KVM_EXIT_SYSTEM_EVENT
  'system_event.type': [32, 'u32'],
  'system_event.ndata': [36, 'u32'],
  'system_event.flags': [40, 'u64'],
  'system_event.data': [40, 'bytes', 128],
  // KVM_EXIT_IOAPIC_EOI
  'eoi.vector': [32, 'u8'],
  // KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR
  'msr.error': [32, 'u8'],
  'msr.pad': [33, 'bytes', 7],
  'msr.reason': [40, 'u32'],
  'msr.index': [44, 'u32'],
  'msr.data': [48, 'u64'],
  // KVM_EXIT_NOTIFY
  'notify.flags': [32, 'u32'],
  // KVM_EXIT_MEMORY_FAULT
  'memory_fault.flags': [32, 'u64'],
  'memory_fault.gpa': [40, 'u64'],
  'memory_fault.size': [48, 'u64'],
  /** The whole 256-byte union. */
  padding: [32, 'bytes', 256],
  kvm_valid_regs: [288, 'u64'],
  kvm_dirty_regs: [296, 'u64'],
  /** union { struct kvm_sync_regs regs; char padding[2048]; } s */
  s: [304, 'bytes', SYNC_REGS_SIZE_BYTES],
  's.regs.regs': [304, 'bytes', 144],
  's.regs.sregs': [448, 'bytes', 312],
  's.regs.events': [760, 'bytes', 64],
});

/** Every layout in this file, for tests and tooling. */
export const ALL_STRUCTS = [
  kvm_regs,
  kvm_segment,
  kvm_dtable,
  kvm_sregs,
  kvm_sregs2,
  kvm_fpu,
  kvm_debugregs,
  kvm_xsave,
  kvm_xcr,
  kvm_xcrs,
  kvm_lapic_state,
  kvm_msr_entry,
  kvm_msrs,
  kvm_msr_list,
  kvm_cpuid_entry2,
  kvm_cpuid2,
  kvm_cpuid_entry,
  kvm_cpuid,
  kvm_userspace_memory_region,
  kvm_userspace_memory_region2,
  kvm_dirty_log,
  kvm_clear_dirty_log,
  kvm_coalesced_mmio_zone,
  kvm_translation,
  kvm_interrupt,
  kvm_irq_level,
  kvm_pic_state,
  kvm_ioapic_state,
  kvm_irqchip,
  kvm_irq_routing_entry,
  kvm_irq_routing,
  kvm_msi,
  kvm_irqfd,
  kvm_ioeventfd,
  kvm_vcpu_events,
  kvm_mp_state,
  kvm_x86_mce,
  kvm_pit_config,
  kvm_pit_channel_state,
  kvm_pit_state,
  kvm_pit_state2,
  kvm_reinject_control,
  kvm_clock_data,
  kvm_debug_exit_arch,
  kvm_guest_debug,
  kvm_enable_cap,
  kvm_tpr_access_ctl,
  kvm_vapic_addr,
  kvm_signal_mask,
  kvm_one_reg,
  kvm_create_device,
  kvm_device_attr,
  kvm_msr_filter,
  kvm_nested_state,
  kvm_run,
] as const;
