/**
 * The runtime of the 64-bit (IA-32e mode) test programs, the long-mode counterpart of runtime.ts:
 * multiboot entry in 32-bit protected mode, 8259s masked, 4-level page tables, CR4.PAE, EFER.LME
 * (and SCE), CR0.PG|WP, a far jump to a 64-bit code segment, a 64-bit IDT (16-byte gates) whose
 * exception handlers print the vector, error code, RIP (and CR2 for #PF) as 64-bit hex and resume at
 * a recovery address the test set, a 64-bit TSS (RSP0, IST1), serial output on port 0x3f8 and exit
 * through isa-debug-exit (port 0xf4).
 *
 * Address space (page tables at 0x20000..0x25fff, built at entry):
 * - 0 .. 1 GiB identity mapped with 2 MiB pages (user, writable);
 * - HIGH_BASE (0xffff8000_00000000) .. +1 GiB: the same 1 GiB again (PML4 entry 256);
 * - HIGH_BASE + 1 GiB: a 4 KiB-paged region for #PF tests, pages 0..4 (see PT4K_PAGES), the rest
 *   not present.
 * GDT: 0x08 64-bit ring-0 code, 0x10 data, 0x18 32-bit ring-3 code, 0x20 ring-3 data, 0x28 64-bit
 * ring-3 code (the SYSCALL/SYSRET layout: STAR[47:32] = 0x08, STAR[63:48] = 0x18), 0x30 32-bit ring-0
 * code (entry and compatibility mode), 0x38 the 64-bit TSS (16 bytes).
 */
import { ORIGIN } from './runtime.js';

/** The high canonical alias of physical 0 (PML4 entry 256). */
export const HIGH_BASE = 0xffff_8000_0000_0000n;
/** The 4 KiB-paged region: HIGH_BASE + 1 GiB. */
export const PT4K_BASE = HIGH_BASE + 0x4000_0000n;
/**
 * Page-table entries of the 4 KiB region (index: PTE low dword, high dword): 0 supervisor RW,
 * 1 not present, 2 supervisor read-only, 3 RW with reserved bit 51 set, 4 user RW.
 */
export const PT4K_PAGES: readonly (readonly [number, number])[] = [
  [0x300003, 0],
  [0, 0],
  [0x302001, 0],
  [0x303003, 0x80000],
  [0x304007, 0],
];

/** Vectors for which the CPU pushes an error code. */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

/** IDT size in vectors: exceptions, 0x30 (ring-3 return), 0x40/0x41 (frame printers). */
const IDT_VECTORS = 0x42;

function isrStubs(): string {
  const lines: string[] = [];
  for (let v = 0; v < 32; v++) {
    lines.push(`isr${v}:`);
    if (!ERROR_CODE_VECTORS.has(v)) lines.push('    push 0');
    lines.push(`    push ${v}`, '    jmp isr_common');
  }
  lines.push('align 8', 'isr_table:');
  for (let v = 0; v < 32; v++) lines.push(`    dq isr${v}`);
  return lines.join('\n');
}

function ptSetup(): string {
  return PT4K_PAGES.map(
    ([lo, hi], i) =>
      `    mov dword [0x25000+${i * 8}], 0x${lo.toString(16)}\n    mov dword [0x25000+${i * 8 + 4}], 0x${hi.toString(16)}`,
  ).join('\n');
}

export const RUNTIME64_CODE = `bits 32
org 0x${ORIGIN.toString(16)}
start:
    cli
    mov esp, stack_top
    mov al, 0xff                ; mask every 8259 input: no timer interrupts in the tests
    out 0x21, al
    out 0xa1, al
    lgdt [gdt_desc]
    jmp 0x30:pm32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov edi, 0x20000            ; page tables: PML4 0x20000, PDPT low 0x21000, PD 0x22000,
    mov ecx, 6*1024             ; PDPT high 0x23000, PD of the 4 KiB region 0x24000, its PT 0x25000
    xor eax, eax
    cld
    rep stosd
    mov dword [0x20000], 0x21007
    mov dword [0x20000+256*8], 0x23007
    mov dword [0x21000], 0x22007
    mov dword [0x23000], 0x22007
    mov dword [0x23008], 0x24007
    mov dword [0x24000], 0x25007
    mov edi, 0x22000
    mov eax, 0x87               ; 2 MiB pages: P RW US PS
    mov ecx, 512
pd_fill:
    mov [edi], eax
    add eax, 0x200000
    add edi, 8
    dec ecx
    jnz pd_fill
${ptSetup()}
    mov eax, 0x20000
    mov cr3, eax
    mov eax, cr4
    or eax, 0x20                ; CR4.PAE
    mov cr4, eax
    mov ecx, 0xc0000080         ; EFER: LME and SCE
    rdmsr
    or eax, 0x101
    wrmsr
    mov eax, cr0
    or eax, 0x80010000          ; CR0.PG and WP
    mov cr0, eax
    jmp 0x08:long_entry
bits 64
long_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov rsp, stack_top
    call idt_init
    lidt [idt_desc]
    call tss_init
    mov ax, 0x38
    ltr ax
    xor eax, eax                ; loaders leave different values (EBX = their multiboot info)
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx
    xor esi, esi
    xor edi, edi
    xor ebp, ebp
    xor r8d, r8d
    xor r9d, r9d
    xor r10d, r10d
    xor r11d, r11d
    xor r12d, r12d
    xor r13d, r13d
    xor r14d, r14d
    xor r15d, r15d
    call main
    mov rsi, msg_done
    call puts
    mov al, 0
exit:
    mov dx, 0xf4
    out dx, al
halt_forever:
    hlt
    jmp halt_forever

; --- output ---------------------------------------------------------------
putc:                       ; al
    push rdx
    mov dx, 0x3f8
    out dx, al
    pop rdx
    ret
puts:                       ; rsi: zero-terminated string
    push rax
    push rsi
puts_loop:
    mov al, [rsi]
    inc rsi
    cmp al, 0
    je puts_done
    call putc
    jmp puts_loop
puts_done:
    pop rsi
    pop rax
    ret
puthex64:                   ; rax, 16 lowercase hex digits; keeps every register
    push rax
    push rcx
    push rdx
    mov rdx, rax
    mov ecx, 16
puthex_loop:
    rol rdx, 4
    mov eax, edx
    and eax, 15
    mov al, [hex_digits+rax]
    call putc
    dec ecx
    jnz puthex_loop
    pop rdx
    pop rcx
    pop rax
    ret
space:
    push rax
    mov al, 0x20
    call putc
    pop rax
    ret
newline:
    push rax
    mov al, 0x0a
    call putc
    pop rax
    ret
space_hex:                  ; " " then rax
    call space
    jmp puthex64

report_regs:                ; [rsp+8] rflags; prints [cur_name] rax rbx rcx rdx rsi rdi rflags&[cur_mask]
    push rsi
    push rax
    mov rsi, [cur_name]
    call puts
    pop rax
    pop rsi
    call space_hex
    push rax
    mov rax, rbx
    call space_hex
    mov rax, rcx
    call space_hex
    mov rax, rdx
    call space_hex
    mov rax, rsi
    call space_hex
    mov rax, rdi
    call space_hex
    mov rax, [rsp+16]
    and rax, [cur_mask]
    call space_hex
    call newline
    pop rax
    ret 8
checksum:                   ; rsi buffer, rcx qwords: prints "sum=" and the sum, keeps registers
    push rax
    push rsi
    push rcx
    xor eax, eax
checksum_loop:
    add rax, [rsi]
    rol rax, 5
    add rsi, 8
    dec rcx
    jnz checksum_loop
    mov rsi, msg_sum
    call puts
    call puthex64
    call newline
    pop rcx
    pop rsi
    pop rax
    ret

; --- interrupts and exceptions ------------------------------------------------
idt_gate:                   ; rax handler, ecx vector, edx type/attribute byte << 8 | IST
    push rax
    push rbx
    mov rbx, rcx
    shl rbx, 4
    mov [idt+rbx], ax
    mov word [idt+rbx+2], 0x08
    mov [idt+rbx+4], dx
    shr rax, 16
    mov [idt+rbx+6], ax
    shr rax, 16
    mov [idt+rbx+8], eax
    mov dword [idt+rbx+12], 0
    pop rbx
    pop rax
    ret
idt_init:
    xor ecx, ecx
    mov edx, 0x8e00             ; present, DPL 0, 64-bit interrupt gate
idt_init_loop:
    mov rax, [isr_table+rcx*8]
    call idt_gate
    inc ecx
    cmp ecx, 32
    jne idt_init_loop
    mov rax, ring0_return       ; 0x30: DPL 3, back to ring 0 from ring-3 code
    mov ecx, 0x30
    mov edx, 0xee00
    call idt_gate
    mov rax, int_frame          ; 0x40: DPL 3, prints the frame it sees
    mov ecx, 0x40
    call idt_gate
    mov rax, int_frame          ; 0x41: the same through IST1
    mov ecx, 0x41
    mov edx, 0xee01
    call idt_gate
    ret
tss_init:                   ; the 64-bit TSS descriptor 0x38 (16 bytes), RSP0 and IST1
    mov rax, tss64
    mov word [gdt_tss], 0x67
    mov [gdt_tss+2], ax
    shr rax, 16
    mov [gdt_tss+4], al
    mov byte [gdt_tss+5], 0x89  ; present, 64-bit TSS (available)
    mov byte [gdt_tss+6], 0
    mov [gdt_tss+7], ah
    shr rax, 16
    mov [gdt_tss+8], eax
    mov dword [gdt_tss+12], 0
    mov rax, intstack_top
    mov [tss64+4], rax          ; RSP0
    mov rax, ist1_top
    mov [tss64+0x24], rax       ; IST1
    mov word [tss64+0x66], 0x68 ; I/O map base past the limit: no port is open to ring 3
    ret
ring0_return:               ; int 0x30 from ring 3: drop the frame, go on at [ring0_continue]
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, [ring0_rsp]
    jmp [ring0_continue]
int_frame:                  ; vectors 0x40 and 0x41: print RSP at entry and the frame, IRETQ
    push rax
    push rsi
    mov rsi, msg_frame
    call puts
    lea rax, [rsp+16]
    call puthex64
    mov rax, [rsp+16]
    call space_hex
    mov rax, [rsp+24]
    call space_hex
    mov rax, [rsp+32]
    call space_hex
    mov rax, [rsp+40]
    call space_hex
    mov rax, [rsp+48]
    call space_hex
    call newline
    pop rsi
    pop rax
    iretq
${isrStubs()}
isr_common:                 ; [rsp] vector, [rsp+8] error code, [rsp+16] rip, +24 cs, +32 rflags, +40 rsp, +48 ss
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15                    ; 15 registers: the vector is at rsp+120
    mov rsi, msg_exc
    call puts
    mov rax, [rsp+120]
    call puthex64
    mov rsi, msg_err
    call puts
    mov rax, [rsp+128]
    call puthex64
    mov rsi, msg_rip
    call puts
    mov rax, [rsp+136]
    call puthex64
    cmp qword [rsp+120], 14
    jne isr_no_cr2
    mov rsi, msg_cr2
    call puts
    mov rax, cr2
    call puthex64
isr_no_cr2:
    call newline
    mov rax, [recover]
    test rax, rax
    jz isr_fatal
    mov qword [recover], 0
    cmp rax, -1                 ; recover = -1: leave the faulting ring-3 code for ring 0
    je ring0_return
    mov [rsp+136], rax
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq
isr_fatal:
    mov rsi, msg_fatal
    call puts
    mov al, 3
    jmp exit
`;

export const RUNTIME64_DATA = `
align 8
gdt:
    dq 0
    dq 0x00af9b000000ffff       ; 0x08 ring-0 code, 64-bit (L=1)
    dq 0x00cf93000000ffff       ; 0x10 ring-0 data, flat
    dq 0x00cffb000000ffff       ; 0x18 ring-3 code, 32-bit (SYSRET to compatibility mode)
    dq 0x00cff3000000ffff       ; 0x20 ring-3 data, flat
    dq 0x00affb000000ffff       ; 0x28 ring-3 code, 64-bit
    dq 0x00cf9b000000ffff       ; 0x30 ring-0 code, 32-bit (entry, compatibility mode)
gdt_tss:
    dq 0, 0                     ; 0x38 64-bit TSS (filled by tss_init)
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dq gdt
align 16
idt:
    times ${IDT_VECTORS * 16} db 0
idt_desc:
    dw ${IDT_VECTORS * 16 - 1}
    dq idt
align 8
recover:
    dq 0
ring0_continue:
    dq 0
ring0_rsp:
    dq 0
cur_name:
    dq 0
cur_mask:
    dq 0
case_rsp:                   ; RSP saved by a test case, restored after it (faults may leave it moved)
    dq 0
align 16
tss64:
    times 104 db 0
hex_digits:
    db "0123456789abcdef"
msg_exc:
    db "EXC ", 0
msg_err:
    db " err=", 0
msg_rip:
    db " rip=", 0
msg_cr2:
    db " cr2=", 0
msg_frame:
    db "FRAME rsp=", 0
msg_fatal:
    db "FATAL", 10, 0
msg_sum:
    db "sum=", 0
msg_done:
    db "DONE", 10, 0
align 16
stack:
    times 8192 db 0
stack_top:
    times 4096 db 0
intstack_top:
    times 4096 db 0
ist1_top:
`;

/** A whole program: the runtime, `main` (the test body, ending in `ret`) and the test's data. */
export function program64(body: string, data = ''): string {
  return `${RUNTIME64_CODE}\nmain:\n${body}\n    ret\n${RUNTIME64_DATA}\n${data}\n`;
}

/**
 * The start of every `vec-*` program's body: the OS side of SSE/AVX (CR0.EM clear and MP set;
 * CR4.OSFXSR, OSXMMEXCPT and OSXSAVE) and XCR0 = x87 | SSE | AVX, so VEX instructions run.
 */
const VEC_PROLOGUE = `
    mov rax, cr0
    and eax, ~4                 ; CR0.EM
    or eax, 2                   ; CR0.MP
    mov cr0, rax
    mov rax, cr4
    or eax, 0x40600             ; CR4.OSFXSR | OSXMMEXCPT | OSXSAVE
    mov cr4, rax
    xor ecx, ecx
    xor edx, edx
    mov eax, 7                  ; XCR0: x87 | SSE | AVX
    xsetbv
`;

/**
 * Routines of the `vec-*` programs: `print_ymm0` prints " " and YMM0 as four 64-bit hex words,
 * the highest first (bits 255:192 ... 63:0), and keeps every register.
 */
const VEC_ROUTINES = `
print_ymm0:
    sub rsp, 32
    vmovdqu [rsp], ymm0
    push rax
    mov rax, [rsp+8+24]
    call space_hex
    mov rax, [rsp+8+16]
    call space_hex
    mov rax, [rsp+8+8]
    call space_hex
    mov rax, [rsp+8]
    call space_hex
    pop rax
    add rsp, 32
    ret
`;

/**
 * A `vec-*` program (AVX, AVX2, FMA, F16C, BMI and the other Haswell-class additions): the 64-bit
 * runtime with SSE/AVX state enabled before `body` runs, and `print_ymm0`.
 */
export function vecProgram(body: string, data = ''): string {
  return `${RUNTIME64_CODE}\n${VEC_ROUTINES}\nmain:\n${VEC_PROLOGUE}\n${body}\n    ret\n${RUNTIME64_DATA}\n${data}\n`;
}
