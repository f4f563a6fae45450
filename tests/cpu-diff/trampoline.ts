/**
 * The reset-vector trampoline of the bare CPU harness: from the x86 power-on state (real mode,
 * CS:IP = F000:FFF0) it switches to flat 32-bit protected mode and enters a multiboot kernel with
 * EAX = 0x2BADB002 and EBX = the information structure, as a multiboot loader would. It needs nothing
 * from the CPU but its architectural reset state, so the harness never reaches into CPU internals.
 * The last 16 bytes of the 64 KiB image hold the reset vector; a harness patches the entry state.
 */
export const TRAMPOLINE_BASE = 0xf0000;

export const TRAMPOLINE_ASM = `bits 16
org 0
entry16:
    cli
    o32 lgdt [cs:gdt_desc]
    mov eax, cr0
    and eax, 0x9fffffff         ; caches on (CD = NW = 0), as firmware leaves them before a loader runs
    or al, 1
    mov cr0, eax
    jmp dword 0x08:(0xf0000 + pm32)
bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, 0x7000
    mov eax, [0xf0000 + eax_value]
    mov ebx, [0xf0000 + mbi]
    mov esi, [0xf0000 + esi_value]
    mov ecx, [0xf0000 + entry]
    xor edx, edx
    xor edi, edi
    xor ebp, ebp
    jmp ecx
align 8
gdt:
    dq 0
    dq 0x00cf9b000000ffff
    dq 0x00cf93000000ffff
gdt_desc:
    dw 23
    dd 0xf0000 + gdt
times ${0x100} - ($ - $$) db 0
entry:
    dd 0
mbi:
    dd 0
esi_value:
    dd 0
eax_value:
    dd 0x2badb002
times 0xfff0 - ($ - $$) db 0
bits 16
reset_vector:
    jmp 0xf000:entry16
times 0x10000 - ($ - $$) db 0
`;

/**
 * Offsets in the image of the fields a harness patches: the entry point and the EBX, ESI and EAX
 * values at entry (multiboot: EBX = information structure, EAX = 0x2BADB002; Linux's 32-bit boot
 * protocol: ESI = boot_params, EAX = EBX = 0).
 */
export const TRAMPOLINE_ENTRY = 0x100;
export const TRAMPOLINE_MBI = 0x104;
export const TRAMPOLINE_ESI = 0x108;
export const TRAMPOLINE_EAX = 0x10c;
