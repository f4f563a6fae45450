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
    ret
${isrStubs()}
isr_common:                 ; [esp] vector, [esp+4] error code, [esp+8] eip
    pushad
    mov esi, msg_exc
    call puts
    mov eax, [esp+32]
    call puthex32
    mov esi, msg_err
    call puts
    mov eax, [esp+36]
    call puthex32
    mov esi, msg_eip
    call puts
    mov eax, [esp+40]
    call puthex32
    cmp dword [esp+32], 14
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
    mov [esp+40], eax
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
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
align 8
idt:
    times 256 db 0
idt_desc:
    dw 255
    dd idt
recover:
    dd 0
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
`;

/** A whole program: the runtime, `main` (the test body, ending in `ret`) and the test's data. */
export function program(body: string, data = ''): string {
  return `${RUNTIME_CODE}\nmain:\n${body}\n    ret\n${RUNTIME_DATA}\n${data}\n`;
}
