import { describe, expect, it } from 'vitest';
import { allocStruct, defineStruct, StructView } from './layout.js';
import * as S from './structs.js';

/** sizeof() of each struct on x86_64 (flexible-array structs: the header). */
const SIZES: Readonly<Record<string, number>> = {
  kvm_regs: 144,
  kvm_segment: 24,
  kvm_dtable: 16,
  kvm_sregs: 312,
  kvm_sregs2: 320,
  kvm_fpu: 416,
  kvm_debugregs: 128,
  kvm_xsave: 4096,
  kvm_xcr: 16,
  kvm_xcrs: 392,
  kvm_lapic_state: 1024,
  kvm_msr_entry: 16,
  kvm_msrs: 8,
  kvm_msr_list: 4,
  kvm_cpuid_entry2: 40,
  kvm_cpuid2: 8,
  kvm_cpuid_entry: 24,
  kvm_cpuid: 8,
  kvm_userspace_memory_region: 32,
  kvm_userspace_memory_region2: 160,
  kvm_dirty_log: 16,
  kvm_clear_dirty_log: 24,
  kvm_coalesced_mmio_zone: 16,
  kvm_translation: 24,
  kvm_interrupt: 4,
  kvm_irq_level: 8,
  kvm_pic_state: 16,
  kvm_ioapic_state: 216,
  kvm_irqchip: 520,
  kvm_irq_routing_entry: 48,
  kvm_irq_routing: 8,
  kvm_msi: 32,
  kvm_irqfd: 32,
  kvm_ioeventfd: 64,
  kvm_vcpu_events: 64,
  kvm_mp_state: 4,
  kvm_x86_mce: 64,
  kvm_pit_config: 64,
  kvm_pit_channel_state: 24,
  kvm_pit_state: 72,
  kvm_pit_state2: 112,
  kvm_reinject_control: 32,
  kvm_clock_data: 48,
  kvm_debug_exit_arch: 32,
  kvm_guest_debug: 72,
  kvm_enable_cap: 104,
  kvm_tpr_access_ctl: 40,
  kvm_vapic_addr: 8,
  kvm_signal_mask: 4,
  kvm_one_reg: 16,
  kvm_create_device: 12,
  kvm_device_attr: 24,
  kvm_msr_filter: 392,
  kvm_nested_state: 128,
  kvm_run: 2352,
};

/** Structs without unions: their fields must tile without overlap. */
const NO_UNION = S.ALL_STRUCTS.filter(
  (s) => !['kvm_run', 'kvm_irq_level', 'kvm_irq_routing_entry'].includes(s.name),
);

describe('struct layouts', () => {
  it.each(S.ALL_STRUCTS.map((s) => [s.name, s] as const))('%s has the x86_64 size', (name, s) => {
    expect(s.size).toBe(SIZES[name]);
  });

  it.each(NO_UNION.map((s) => [s.name, s] as const))(
    '%s fields do not overlap and fill the struct',
    (_, s) => {
      const fields = Object.values(s.fields).sort((a, b) => a.offset - b.offset);
      let end = 0;
      for (const f of fields) {
        expect(f.offset).toBeGreaterThanOrEqual(end);
        end = f.offset + f.size;
      }
      expect(end).toBe(s.size);
    },
  );

  it('kvm_sregs places segments, tables, control registers and the interrupt bitmap', () => {
    const f = S.kvm_sregs.fields;
    expect([f.cs.offset, f.ss.offset, f.tr.offset, f.ldt.offset]).toEqual([0, 120, 144, 168]);
    expect([f.gdt.offset, f.idt.offset]).toEqual([192, 208]);
    expect([f.cr0.offset, f.cr3.offset, f.cr4.offset, f.cr8.offset]).toEqual([224, 240, 248, 256]);
    expect([f.efer.offset, f.apic_base.offset, f.interrupt_bitmap.offset]).toEqual([264, 272, 280]);
    expect(f.interrupt_bitmap.size * 8).toBe(S.KVM_NR_INTERRUPTS);
  });

  it('kvm_segment packs the attribute bytes after the selector', () => {
    const f = S.kvm_segment.fields;
    expect([f.limit.offset, f.selector.offset, f.type.offset, f.present.offset]).toEqual([8, 12, 14, 15]);
    expect([f.l.offset, f.g.offset, f.unusable.offset]).toEqual([19, 20, 22]);
  });

  it('kvm_run has its header fields and union members at the kernel offsets', () => {
    const f = S.kvm_run.fields;
    expect([f.request_interrupt_window.offset, f.immediate_exit.offset, f.exit_reason.offset]).toEqual([
      0, 1, 8,
    ]);
    expect([f.ready_for_interrupt_injection.offset, f.if_flag.offset, f.flags.offset]).toEqual([12, 13, 14]);
    expect([f.cr8.offset, f.apic_base.offset]).toEqual([16, 24]);
    expect([f['io.direction'].offset, f['io.size'].offset, f['io.port'].offset]).toEqual([32, 33, 34]);
    expect([f['io.count'].offset, f['io.data_offset'].offset]).toEqual([36, 40]);
    expect([f['mmio.phys_addr'].offset, f['mmio.data'].offset, f['mmio.len'].offset]).toEqual([32, 40, 48]);
    expect(f['mmio.is_write'].offset).toBe(52);
    expect([f['fail_entry.hardware_entry_failure_reason'].offset, f['fail_entry.cpu'].offset]).toEqual([
      32, 40,
    ]);
    expect([f['internal.suberror'].offset, f['internal.ndata'].offset, f['internal.data'].offset]).toEqual([
      32, 36, 40,
    ]);
    expect([
      f['system_event.type'].offset,
      f['system_event.ndata'].offset,
      f['system_event.data'].offset,
    ]).toEqual([32, 36, 40]);
    expect([f['debug.arch.exception'].offset, f['debug.arch.pc'].offset, f['debug.arch.dr7'].offset]).toEqual(
      [32, 40, 56],
    );
    expect([
      f['msr.error'].offset,
      f['msr.reason'].offset,
      f['msr.index'].offset,
      f['msr.data'].offset,
    ]).toEqual([32, 40, 44, 48]);
    expect([f.padding.offset, f.padding.size]).toEqual([32, 256]);
    expect([f.kvm_valid_regs.offset, f.kvm_dirty_regs.offset, f.s.offset]).toEqual([288, 296, 304]);
  });

  it('kvm_vcpu_events keeps the payload fields at the end', () => {
    const f = S.kvm_vcpu_events.fields;
    expect([f.sipi_vector.offset, f.flags.offset, f['smi.smm'].offset]).toEqual([16, 20, 24]);
    expect([
      f['triple_fault.pending'].offset,
      f.exception_has_payload.offset,
      f.exception_payload.offset,
    ]).toEqual([28, 55, 56]);
  });

  it('kvm_fpu, kvm_ioeventfd, kvm_clock_data and kvm_irqfd fields sit at the kernel offsets', () => {
    expect([
      S.kvm_fpu.fields.last_ip.offset,
      S.kvm_fpu.fields.xmm.offset,
      S.kvm_fpu.fields.mxcsr.offset,
    ]).toEqual([136, 152, 408]);
    const e = S.kvm_ioeventfd.fields;
    expect([e.datamatch.offset, e.addr.offset, e.len.offset, e.fd.offset, e.flags.offset]).toEqual([
      0, 8, 16, 20, 24,
    ]);
    const c = S.kvm_clock_data.fields;
    expect([c.clock.offset, c.flags.offset, c.realtime.offset, c.host_tsc.offset]).toEqual([0, 8, 16, 24]);
    const q = S.kvm_irqfd.fields;
    expect([q.fd.offset, q.gsi.offset, q.flags.offset, q.resamplefd.offset]).toEqual([0, 4, 8, 12]);
    expect(S.kvm_irq_routing_entry.fields['msi.data'].offset).toBe(24);
    expect(S.kvm_enable_cap.fields.args0.offset).toBe(8);
  });
});

describe('StructView', () => {
  it('reads and writes every scalar width little-endian', () => {
    const v = allocStruct(S.kvm_segment);
    v.set('base', 0x1234_5678_9abc);
    v.set('limit', 0xfffff);
    v.set('selector', 0x10);
    v.set('type', 0xb);
    expect(Array.from(v.bytes.subarray(0, 16))).toEqual([
      0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, 0, 0, 0xff, 0xff, 0x0f, 0, 0x10, 0, 0x0b, 0,
    ]);
    expect([v.get('base'), v.get('limit'), v.get('selector'), v.get('type')]).toEqual([
      0x1234_5678_9abc, 0xfffff, 0x10, 0xb,
    ]);
  });

  it("keeps all 64 bits through bigint and stores negative numbers in two's complement", () => {
    const v = allocStruct(S.kvm_regs);
    v.set('rax', 0xffff_ffff_ffff_fffen);
    expect(v.getBigInt('rax')).toBe(0xffff_ffff_ffff_fffen);
    v.set('rbx', -1);
    expect(v.getBigInt('rbx')).toBe(0xffff_ffff_ffff_ffffn);
    v.set('rcx', -2n);
    expect(v.getBigInt('rcx')).toBe(0xffff_ffff_ffff_fffen);
  });

  it('reads a signed field with its sign', () => {
    const v = allocStruct(S.kvm_ioeventfd);
    v.set('fd', -1);
    expect(v.get('fd')).toBe(-1);
    const p = allocStruct(S.kvm_pit_channel_state);
    p.set('count_load_time', -5);
    expect(p.get('count_load_time')).toBe(-5);
  });

  it('views a nested struct and a byte array in place', () => {
    const s = allocStruct(S.kvm_sregs);
    s.sub('ss', S.kvm_segment).set('selector', 0x18);
    expect(s.bytes[120 + 12]).toBe(0x18);
    s.bytesOf('interrupt_bitmap')[0] = 0x80;
    expect(s.bytes[280]).toBe(0x80);
    expect(() => s.get('cs')).toThrow(TypeError);
  });

  it('refuses a buffer too small for the struct (a programmer error)', () => {
    expect(() => new StructView(S.kvm_regs, new Uint8Array(143))).toThrow(RangeError);
  });

  it('rejects a layout whose field is misaligned or out of bounds', () => {
    expect(() => defineStruct('bad', 8, { x: [2, 'u32'] })).toThrow(/unaligned/);
    expect(() => defineStruct('bad', 8, { x: [8, 'u8'] })).toThrow(/outside/);
  });
});
