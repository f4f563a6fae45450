import { KVM_MEM_READONLY, KvmHost, type UserMemoryRegion } from '@typevisor/kvm';
import { describe, expect, it } from 'vitest';
import { checkBiosImage, cmosBootOrder, FIRMWARE_SLOT, FirmwareMemory } from './firmware.js';
import { PAM_SEGMENTS, pamMode, segmentBacking } from './pam.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A host that records the memory slots and backs them with the facade's address space. */
function recordingHost() {
  const host = new KvmHost();
  const slots = new Map<number, UserMemoryRegion>();
  return {
    slots,
    mmap: (n: number) => host.mmap(n),
    vm: {
      setUserMemoryRegion(r: UserMemoryRegion) {
        if (Number(r.memorySize) === 0) slots.delete(r.slot);
        else slots.set(r.slot, r);
      },
    },
    /** The slot covering guest-physical `gpa`. */
    at(gpa: number): UserMemoryRegion | undefined {
      return [...slots.values()].find(
        (s) => gpa >= Number(s.guestPhysAddr) && gpa < Number(s.guestPhysAddr) + Number(s.memorySize),
      );
    },
  };
}

function setup(biosSize = 256 * KiB) {
  const h = recordingHost();
  const ram = h.mmap(32 * MiB);
  const bios = new Uint8Array(biosSize);
  const mem = new FirmwareMemory(h, { addr: ram.addr, size: 32 * MiB }, bios);
  const biosSlot = h.slots.get(FIRMWARE_SLOT.BIOS)!;
  return { h, ram, mem, biosAddr: Number(biosSlot.userspaceAddr) };
}

describe('PAM segments (i440FX 0x59-0x5F)', () => {
  it('PAM0 bits 5:4 hold 0xF0000 (64 KiB); PAM1-6 two 16-KiB segments each from 0xC0000', () => {
    expect(PAM_SEGMENTS).toHaveLength(13);
    expect(PAM_SEGMENTS[0]).toEqual({ start: 0xf0000, size: 64 * KiB, register: 0, shift: 4 });
    expect(PAM_SEGMENTS[1]).toEqual({ start: 0xc0000, size: 16 * KiB, register: 1, shift: 0 });
    expect(PAM_SEGMENTS[2]).toEqual({ start: 0xc4000, size: 16 * KiB, register: 1, shift: 4 });
    expect(PAM_SEGMENTS[12]).toEqual({ start: 0xec000, size: 16 * KiB, register: 6, shift: 4 });
  });

  it('decodes RE/WE into pci, read-only, write-only and ram', () => {
    const f = PAM_SEGMENTS[0]!;
    expect([0x00, 0x10, 0x20, 0x30].map((v) => pamMode(f, v))).toEqual([
      'pci',
      'read-only',
      'write-only',
      'ram',
    ]);
    // SeaBIOS's 0x31: the low segment (option ROMs) write-protected, the high one left RAM.
    expect(pamMode(PAM_SEGMENTS[1]!, 0x31)).toBe('read-only');
    expect(pamMode(PAM_SEGMENTS[2]!, 0x31)).toBe('ram');
  });

  it('sends pci (and write-only, as QEMU) to the ISA BIOS alias: the last 128 KiB of the image', () => {
    const f = PAM_SEGMENTS[0]!;
    const e = PAM_SEGMENTS[10]!; // 0xE4000
    expect(segmentBacking(f, 'pci', 256 * KiB)).toEqual({ kind: 'bios', offset: 192 * KiB });
    expect(segmentBacking(e, 'write-only', 256 * KiB)).toEqual({ kind: 'bios', offset: 144 * KiB });
    expect(segmentBacking(PAM_SEGMENTS[1]!, 'pci', 256 * KiB)).toEqual({ kind: 'none' });
    // A 64-KiB image only covers 0xF0000-0xFFFFF.
    expect(segmentBacking(e, 'pci', 64 * KiB)).toEqual({ kind: 'none' });
    expect(segmentBacking(f, 'pci', 64 * KiB)).toEqual({ kind: 'bios', offset: 0 });
    expect(segmentBacking(e, 'read-only', 256 * KiB)).toEqual({ kind: 'ram', readonly: true });
  });
});

describe('FirmwareMemory (memory slots of a firmware-booted pc)', () => {
  it('maps the BIOS read-only so that it ends at 0xFFFFFFFF, RAM around the PAM area', () => {
    const { h, ram } = setup();
    const bios = h.slots.get(FIRMWARE_SLOT.BIOS)!;
    expect(Number(bios.guestPhysAddr)).toBe(2 ** 32 - 256 * KiB);
    expect(Number(bios.memorySize)).toBe(256 * KiB);
    expect(bios.flags).toBe(KVM_MEM_READONLY);
    expect(h.slots.get(FIRMWARE_SLOT.RAM_LOW)).toMatchObject({ guestPhysAddr: 0, memorySize: 0xc0000 });
    expect(h.slots.get(FIRMWARE_SLOT.RAM_HIGH)).toMatchObject({
      guestPhysAddr: MiB,
      memorySize: 31 * MiB,
      userspaceAddr: ram.addr + MiB,
    });
  });

  it('with a VGA leaves 0xA0000-0xAFFFF to the card (its graphics window) and keeps the text window RAM', () => {
    const h = recordingHost();
    const ram = h.mmap(32 * MiB);
    new FirmwareMemory(h, { addr: ram.addr, size: 32 * MiB }, new Uint8Array(256 * KiB), {
      graphicsWindow: true,
    });
    expect(h.slots.get(FIRMWARE_SLOT.RAM_LOW)).toMatchObject({ guestPhysAddr: 0, memorySize: 0xa0000 });
    expect(h.at(0x9ffff)).toBeDefined();
    expect(h.at(0xa0000)).toBeUndefined();
    expect(h.at(0xaffff)).toBeUndefined();
    expect(h.at(0xb8000)).toMatchObject({ userspaceAddr: ram.addr + 0xb0000 });
    expect(h.at(0xbffff)).toBeDefined();
  });

  it('at reset 0xE0000-0xFFFFF reads the BIOS alias and 0xC0000-0xDFFFF decodes nothing', () => {
    const { h, biosAddr } = setup();
    const f = h.at(0xf0000)!;
    expect(f.flags).toBe(KVM_MEM_READONLY);
    expect(Number(f.userspaceAddr)).toBe(biosAddr + 192 * KiB);
    expect(Number(h.at(0xe0000)!.userspaceAddr)).toBe(biosAddr + 128 * KiB);
    expect(h.at(0xc0000)).toBeUndefined();
    expect(h.at(0xdc000)).toBeUndefined();
  });

  it('follows the PAM registers as SeaBIOS programs them: shadow RAM, then write-protected', () => {
    const { h, ram, mem, biosAddr } = setup();
    mem.pamChanged(0, 0x30); // make_bios_writable: 0xF0000 to RAM
    mem.pamChanged(6, 0x33);
    expect(h.at(0xf0000)).toMatchObject({ flags: 0, userspaceAddr: ram.addr + 0xf0000 });
    expect(h.at(0xec000)).toMatchObject({ flags: 0, userspaceAddr: ram.addr + 0xec000 });
    mem.pamChanged(0, 0x10); // make_bios_readonly
    mem.pamChanged(6, 0x31); // 0xE8000 read-only, 0xEC000 stays writable
    expect(h.at(0xf0000)).toMatchObject({ flags: KVM_MEM_READONLY, userspaceAddr: ram.addr + 0xf0000 });
    expect(h.at(0xe8000)!.flags).toBe(KVM_MEM_READONLY);
    expect(h.at(0xec000)!.flags).toBe(0);
    expect(mem.modes[0]).toBe('read-only');
    mem.pamChanged(0, 0); // back to the ROM
    expect(Number(h.at(0xf0000)!.userspaceAddr)).toBe(biosAddr + 192 * KiB);
  });

  it('refuses images that are not whole 64-KiB blocks up to 16 MiB', () => {
    expect(checkBiosImage('b.bin', 256 * KiB)).toBeUndefined();
    expect(checkBiosImage('b.bin', 1000)).toBe(
      '-bios b.bin: the image is 1000 bytes, not a whole number of 64 KiB blocks',
    );
    expect(checkBiosImage('b.bin', 0)).toMatch(/not a whole number of 64 KiB blocks/);
    expect(checkBiosImage('b.bin', 17 * MiB)).toMatch(/more than the 16 MiB flash window/);
    expect(() => setup(1000)).toThrow(RangeError);
  });
});

describe('-boot order in CMOS', () => {
  it('maps QEMU letters to CMOS boot devices and rejects others', () => {
    expect(cmosBootOrder('cad')).toEqual([2, 1, 3]);
    expect(cmosBootOrder('d')).toEqual([3]);
    expect(cmosBootOrder('x')).toBe("Invalid boot device for PC: 'x'");
    expect(cmosBootOrder('cdna')).toBe('Too many boot devices for PC');
  });
});
