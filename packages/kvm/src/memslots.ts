import {
  DirtyBitmap,
  GuestMemory,
  type HostAddressSpace,
  type MemoryRegion,
  type WriteLog,
} from '@typevisor/memory';
import { KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY } from './uapi/constants.js';
import { EEXIST, EFAULT, EINVAL, ENOENT, ENOMEM } from './uapi/errno.js';

/** KVM_USER_MEM_SLOTS on x86: KVM_MEM_SLOTS_NUM (SHRT_MAX) minus 3 internal slots; KVM_CAP_NR_MEMSLOTS. */
export const KVM_USER_MEM_SLOTS = 32764;
/** KVM_MEM_SLOTS_NUM = SHRT_MAX. */
export const KVM_MEM_SLOTS_NUM = 32767;
/** KVM_MEM_MAX_NR_PAGES: a slot's page count must fit in 31 bits. */
export const KVM_MEM_MAX_NR_PAGES = 2 ** 31 - 1;
/** Address spaces: 1 (no SMM address space, so KVM_CAP_MULTI_ADDRESS_SPACE is not offered). */
export const KVM_ADDRESS_SPACE_NUM = 1;
/** TASK_SIZE_MAX on x86_64 with 4-level paging: the end of the user half, less a guard page. */
export const TASK_SIZE_MAX = 2n ** 47n - 4096n;
/**
 * Guest physical address bits the memslots may reach: kvm_mmu_max_gfn() with 52 bits (the bound KVM
 * uses without TDP, and the architectural maximum). Every slot therefore ends below 2^52, so
 * addresses fit a double exactly.
 */
export const MAX_GPA_BITS = 52;
const MAX_GFN = 2n ** BigInt(MAX_GPA_BITS - 12) - 1n;
/** The flags KVM_SET_USER_MEMORY_REGION (v1) accepts. */
export const KVM_SET_USER_MEMORY_REGION_V1_FLAGS = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY;

const PAGE_MASK = 4095n;

/** The arguments of kvm_userspace_memory_region, with the 64-bit fields exact. */
export interface MemoryRegionRequest {
  readonly slot: number;
  readonly flags: number;
  readonly guestPhysAddr: bigint;
  readonly memorySize: bigint;
  readonly userspaceAddr: bigint;
}

/** One memory slot, as `struct kvm_memory_slot` holds it. */
export interface Memslot {
  readonly id: number;
  readonly asId: number;
  readonly gpa: number;
  readonly size: number;
  readonly userspaceAddr: number;
  readonly flags: number;
  /** The guest-memory region, or null when `userspaceAddr` is not (wholly) mapped: guest access faults. */
  readonly region: MemoryRegion | null;
  /** Present while KVM_MEM_LOG_DIRTY_PAGES is set. */
  readonly dirty: DirtyBitmap | null;
  /**
   * The write log of the host mapping behind the slot (anonymous `mmap` memory), in which the VMM's
   * writes to guest RAM show: each vCPU drops the decoded code of the pages it names before it runs
   * (`VcpuRunner.runIoctl`). Null when the slot is not backed by such a mapping.
   */
  readonly writes: WriteLog | null;
}

/** What `set` did, as `enum kvm_mr_change`. */
export type MemslotChange = 'create' | 'delete' | 'move' | 'flags-only' | 'none';

/**
 * The memslots of one VM and the guest physical memory they form. `set` applies every rule of
 * virt/kvm/kvm_main.c's kvm_vm_ioctl_set_memory_region / __kvm_set_memory_region and x86's
 * kvm_arch_prepare_memory_region, in the kernel's order, and returns 0 or the kernel's negative errno.
 */
export class Memslots {
  readonly memory = new GuestMemory();
  private readonly slots = new Map<number, Memslot>();
  /** Called after every change, for listeners such as a TLB or decoded-block cache. */
  onChange: ((change: MemslotChange, slot: Memslot) => void) | null = null;
  /** Bumped by every change (kvm_memslots.generation): running vCPUs rebuild their address space. */
  generation = 0;

  constructor(private readonly host: HostAddressSpace) {}

  get(slot: number): Memslot | undefined {
    return this.slots.get(slot);
  }

  all(): readonly Memslot[] {
    return [...this.slots.values()].sort((a, b) => a.gpa - b.gpa);
  }

  set(mem: MemoryRegionRequest): number {
    // kvm_vm_ioctl(KVM_SET_USER_MEMORY_REGION): v1 flags only.
    if ((mem.flags & ~KVM_SET_USER_MEMORY_REGION_V1_FLAGS) !== 0) return -EINVAL;
    // kvm_vm_ioctl_set_memory_region
    if ((mem.slot & 0xffff) >= KVM_USER_MEM_SLOTS) return -EINVAL;
    // check_memory_region_flags: LOG_DIRTY_PAGES, and READONLY (x86 has read-only memory).
    if ((mem.flags & ~(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)) !== 0) return -EINVAL;
    const asId = mem.slot >>> 16;
    const id = mem.slot & 0xffff;
    const { guestPhysAddr: gpa, memorySize: size, userspaceAddr: uaddr } = mem;
    // General sanity checks.
    if ((size & PAGE_MASK) !== 0n) return -EINVAL;
    if ((gpa & PAGE_MASK) !== 0n) return -EINVAL;
    // access_ok(): the user range lies below TASK_SIZE_MAX without wrapping.
    if ((uaddr & PAGE_MASK) !== 0n || uaddr + size > TASK_SIZE_MAX) return -EINVAL;
    if (asId >= KVM_ADDRESS_SPACE_NUM || id >= KVM_MEM_SLOTS_NUM) return -EINVAL;
    if (gpa + size >= 2n ** 64n) return -EINVAL;
    if (size >> 12n > BigInt(KVM_MEM_MAX_NR_PAGES)) return -EINVAL;

    const old = this.slots.get(id);
    if (size === 0n) {
      if (old === undefined) return -EINVAL;
      this.remove(old);
      this.slots.delete(id);
      this.generation++;
      this.onChange?.('delete', old);
      return 0;
    }

    const baseGfn = gpa >> 12n;
    const npages = size >> 12n;
    let change: MemslotChange;
    if (old === undefined) {
      change = 'create';
    } else {
      if (
        Number(uaddr) !== old.userspaceAddr ||
        Number(size) !== old.size ||
        ((mem.flags ^ old.flags) & KVM_MEM_READONLY) !== 0
      ) {
        return -EINVAL;
      }
      if (Number(gpa) !== old.gpa) change = 'move';
      else if (mem.flags !== old.flags) change = 'flags-only';
      else return 0;
    }
    if ((change === 'create' || change === 'move') && this.overlaps(id, gpa, size)) return -EEXIST;
    // kvm_arch_prepare_memory_region (x86): the slot must end below kvm_mmu_max_gfn().
    if ((change === 'create' || change === 'move') && baseGfn + npages - 1n > MAX_GFN) return -EINVAL;

    // kvm_prepare_memory_region: keep the old dirty bitmap while logging stays on.
    const logging = (mem.flags & KVM_MEM_LOG_DIRTY_PAGES) !== 0;
    let dirty: DirtyBitmap | null = null;
    if (logging) {
      try {
        dirty = old?.dirty ?? new DirtyBitmap(Number(npages));
      } catch {
        return -ENOMEM; // kvm_alloc_dirty_bitmap() failed
      }
    }
    if (old !== undefined) this.remove(old);
    const next = this.install(id, asId, Number(gpa), Number(size), Number(uaddr), mem.flags, dirty);
    this.slots.set(id, next);
    this.generation++;
    this.onChange?.(change, next);
    return 0;
  }

  /**
   * KVM_GET_DIRTY_LOG (kvm_get_dirty_log_protect without manual protection): copies the slot's bitmap
   * to `out` and clears it. `out` is undefined when the destination is not mapped.
   */
  getDirtyLog(slot: number, out: (bytes: number) => Uint8Array | undefined): number {
    const asId = slot >>> 16;
    const id = slot & 0xffff;
    if (asId >= KVM_ADDRESS_SPACE_NUM || id >= KVM_USER_MEM_SLOTS) return -EINVAL;
    const s = this.slots.get(id);
    if (s === undefined || s.dirty === null) return -ENOENT;
    const dst = out(s.dirty.byteLength);
    if (dst === undefined || !s.dirty.harvest(dst)) return -EFAULT;
    return 0;
  }

  private overlaps(id: number, gpa: bigint, size: bigint): boolean {
    const start = Number(gpa);
    const end = Number(gpa + size);
    for (const s of this.slots.values()) {
      if (s.id === id) continue;
      if (start < s.gpa + s.size && s.gpa < end) return true;
    }
    return false;
  }

  private install(
    id: number,
    asId: number,
    gpa: number,
    size: number,
    userspaceAddr: number,
    flags: number,
    dirty: DirtyBitmap | null,
  ): Memslot {
    const backing = this.host.view(userspaceAddr, size);
    let region: MemoryRegion | null = null;
    if (backing !== undefined) {
      region = this.memory.addRegion(gpa, backing, { readonly: (flags & KVM_MEM_READONLY) !== 0 });
      region.dirty = dirty;
    }
    const writes = backing === undefined ? null : (this.host.find(userspaceAddr, size)?.writes ?? null);
    return { id, asId, gpa, size, userspaceAddr, flags, region, dirty, writes };
  }

  private remove(slot: Memslot): void {
    if (slot.region !== null) this.memory.removeRegion(slot.gpa);
  }
}
