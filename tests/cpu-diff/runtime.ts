/**
 * The small runtime every CPU test program shares (32-bit protected mode, flat segments, ring 0):
 * entry from multiboot, a GDT and IDT of its own, serial output of strings and hex numbers on
 * port 0x3f8, exception handlers that print the vector, error code, EIP (and CR2 for #PF) and resume
 * at a recovery address the test set, and exit through isa-debug-exit (port 0xf4).
 * Programs are assembly text in NASM's Intel syntax; `program(body, data)` wraps a test body.
 */

/** Where the multiboot loaders put the first code byte (makeMultibootImage: load address + 32). */
export const ORIGIN = 0x100020;

/** Vectors for which the CPU pushes an error code. */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

function isrStubs(): string {
  const lines: string[] = [];
  for (let v = 0; v < 32; v++) {
    lines.push(`isr${v}:`);
    if (!ERROR_CODE_VECTORS.has(v)) lines.push('    push dword 0');
    lines.push(`    push dword ${v}`, '    jmp isr_common');
  }
  lines.push('isr_table:');
  for (let v = 0; v < 32; v++) lines.push(`    dd isr${v}`);
  return lines.join('\n');
}

export const RUNTIME_CODE = `bits 32
org 0x${ORIGIN.toString(16)}
start:
    cli
    mov esp, stack_top
    mov al, 0xff                ; mask every 8259 input: no timer interrupts in the tests
    out 0x21, al
    out 0xa1, al
    lgdt [gdt_desc]
    jmp 0x08:flush_cs
flush_cs:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    call idt_init
    lidt [idt_desc]
    call tss_init
    mov ax, 0x28
    ltr ax
    xor eax, eax                ; loaders leave different values (EBX = their multiboot info)
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx
    xor esi, esi
    xor edi, edi
    xor ebp, ebp
    call main
    mov esi, msg_done
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
    push edx
    mov dx, 0x3f8
    out dx, al
    pop edx
    ret
puts:                       ; esi: zero-terminated string
    push eax
    push esi
puts_loop:
    mov al, [esi]
    inc esi
    cmp al, 0
    je puts_done
    call putc
    jmp puts_loop
puts_done:
    pop esi
    pop eax
    ret
puthex32:                   ; eax, 8 lowercase hex digits
    push ecx
    push edx
    mov edx, eax
    mov ecx, 8
puthex_loop:
    rol edx, 4
    mov eax, edx
    and eax, 15
    mov al, [hex_digits+eax]
    call putc
    dec ecx
    jnz puthex_loop
    mov eax, edx
    pop edx
    pop ecx
    ret
space:
    push eax
    mov al, 0x20
    call putc
    pop eax
    ret
newline:
    push eax
    mov al, 0x0a
    call putc
    pop eax
    ret

report_regs:                ; [esp+4] flags; prints [cur_name] eax ecx edx ebx esi edi flags&[cur_mask]
    pushad
    mov esi, [cur_name]
    call puts
    mov ecx, 7
    mov ebx, 28                 ; pushad frame: eax at +28 ... edi at +0, skipping esp and ebp
report_regs_loop:
    call space
    mov eax, [esp+ebx]
    call puthex32
    sub ebx, 4
    cmp ebx, 12                 ; skip the saved esp
    jne report_regs_not_esp
    sub ebx, 8                  ; and ebp
report_regs_not_esp:
    dec ecx
    cmp ecx, 1
    jne report_regs_loop
    call space
    mov eax, [esp+36]
    and eax, [cur_mask]
    call puthex32
    call newline
    popad
    ret 4
checksum:                   ; esi buffer, ecx dwords: prints " sum=" and the sum, keeps registers
    pushad
    xor eax, eax
checksum_loop:
    add eax, [esi]
    rol eax, 3
    add esi, 4
    dec ecx
    jnz checksum_loop
    mov esi, msg_sum
    call puts
    call puthex32
    call newline
    popad
    ret

; --- exceptions -------------------------------------------------------------
idt_init:
    mov ecx, 0
idt_init_loop:
    mov eax, [isr_table+ecx*4]
    mov [idt+ecx*8], ax
    mov word [idt+ecx*8+2], 0x08
    mov word [idt+ecx*8+4], 0x8e00
    shr eax, 16
    mov [idt+ecx*8+6], ax
    inc ecx
    cmp ecx, 32
    jne idt_init_loop
    mov eax, ring0_return       ; vector 0x30: a DPL-3 interrupt gate back to ring 0
    mov [idt+0x30*8], ax
    mov word [idt+0x30*8+2], 0x08
    mov word [idt+0x30*8+4], 0xee00
    shr eax, 16
    mov [idt+0x30*8+6], ax
    ret
tss_init:                   ; descriptors 0x28 and 0x68 -> tss0 and tss1, 104 bytes each
    mov eax, tss0
    mov ebx, gdt_tss0
    call tss_descriptor
    mov eax, tss1
    mov ebx, gdt_tss1
    call tss_descriptor
    mov dword [tss0+4], intstack_top ; ESP0: traps from ring 3 and v86 land on their own stack
    mov dword [tss0+8], 0x10         ; SS0
    mov dword [tss1+4], intstack_top
    mov dword [tss1+8], 0x10
    mov word [tss0+0x66], 0x68       ; I/O map base past the limit: no port is open to ring 3
    mov word [tss1+0x66], 0x68
    ret
tss_descriptor:             ; eax base, ebx descriptor: limit 0x67, type 9 (32-bit TSS, available)
    mov word [ebx], 0x67
    mov [ebx+2], ax
    shr eax, 16
    mov [ebx+4], al
    mov byte [ebx+5], 0x89
    mov byte [ebx+6], 0
    mov [ebx+7], ah
    ret
ring0_return:               ; int 0x30 from ring 3 or v86: drop the frame, go on at [ring0_continue]
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov esp, [ring0_esp]
    jmp [ring0_continue]
${isrStubs()}
isr_common:                 ; [esp] vector, [esp+4] error code, [esp+8] eip
    pushad
    push ds                     ; the faulting code may have any data segment loaded: keep it,
    push es                     ; print with flat ones, and give it back on the way out
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov esi, msg_exc
    call puts
    mov eax, [esp+40]
    call puthex32
    mov esi, msg_err
    call puts
    mov eax, [esp+44]
    call puthex32
    mov esi, msg_eip
    call puts
    mov eax, [esp+48]
    call puthex32
    cmp dword [esp+40], 14
    jne isr_no_cr2
    mov esi, msg_cr2
    call puts
    mov eax, cr2
    call puthex32
isr_no_cr2:
    call newline
    mov eax, [recover]
    cmp eax, 0
    je isr_fatal
    mov dword [recover], 0
    cmp eax, 0xffffffff         ; recover = -1: leave the faulting ring-3 or v86 code for ring 0
    je ring0_return
    mov [esp+48], eax
    pop es
    pop ds
    popad
    add esp, 8
    iretd
isr_fatal:
    mov esi, msg_fatal
    call puts
    mov al, 3
    jmp exit
`;

export const RUNTIME_DATA = `
align 8
gdt:
    dq 0
    dq 0x00cf9b000000ffff       ; 0x08 ring-0 code, flat
    dq 0x00cf93000000ffff       ; 0x10 ring-0 data, flat
    dq 0x00cffb000000ffff       ; 0x18 ring-3 code, flat
    dq 0x00cff3000000ffff       ; 0x20 ring-3 data, flat
gdt_tss0:
    dq 0                        ; 0x28 TSS of the main task (filled by tss_init)
    dq 0x00409300500000ff       ; 0x30 data, base 0x5000, limit 0xff bytes
    dq 0x00c0970050000000       ; 0x38 expand-down data, base 0x5000, limit 0 pages (offsets >= 0x1000)
    dq 0x00cf13000000ffff       ; 0x40 data, not present
    dq 0x00cf99000000ffff       ; 0x48 code, execute-only
    dq 0x00cf91000000ffff       ; 0x50 data, read-only
    dq 0x00009b000000ffff       ; 0x58 16-bit code, base 0, limit 0xffff
    dq 0x00cfdb000000ffff       ; 0x60 code, DPL 2
gdt_tss1:
    dq 0                        ; 0x68 TSS of a second task (filled by tss_init)
    dq 0x00409b000000ffff       ; 0x70 code, byte granular, limit 0xffff
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
align 8
idt:
    times 400 db 0
idt_desc:
    dw 0x18f                    ; vectors 0..0x31
    dd idt
recover:
    dd 0
ring0_continue:
    dd 0
ring0_esp:
    dd 0
align 16
tss0:
    times 104 db 0
tss1:
    times 104 db 0
hex_digits:
    db "0123456789abcdef"
msg_exc:
    db "EXC ", 0
msg_err:
    db " err=", 0
msg_eip:
    db " eip=", 0
msg_cr2:
    db " cr2=", 0
msg_fatal:
    db "FATAL", 10, 0
msg_sum:
    db "sum=", 0
cur_name:
    dd 0
cur_mask:
    dd 0
msg_done:
    db "DONE", 10, 0
align 16
stack:
    times 8192 db 0
stack_top:
    times 4096 db 0
intstack_top:
`;

/** A whole program: the runtime, `main` (the test body, ending in `ret`) and the test's data. */
export function program(body: string, data = ''): string {
  return `${RUNTIME_CODE}\nmain:\n${body}\n    ret\n${RUNTIME_DATA}\n${data}\n`;
}
