/**
 * Boot sectors for the firmware tests (CLI and web): real-mode code at 0000:7C00 that ends by sending a
 * zero-terminated string at label `msg` to COM1 (polling LSR.THRE), then halts.
 */
import { assemble } from '@typevisor/x86-decoder';

/** The tail every test boot sector ends with: send the string at `report` to COM1, then `cli; hlt`. */
const SEND_TO_COM1 = `
    mov si, report
  next:
    mov dx, 0x3fd
  poll:
    in al, dx
    test al, 0x20
    jz poll
    lodsb
    test al, al
    jz done
    mov dx, 0x3f8
    out dx, al
    jmp next
  done:
    cli
    hlt
    jmp done`;

/**
 * A 512-byte boot sector: `body` (real mode, DS = 0 on entry to it) runs first, then the string at label
 * `report` (defined by `data`) goes to COM1, then the CPU halts.
 */
export function bootSectorWith(body: string, data: string): Uint8Array {
  const code = assemble(`cli\nxor ax, ax\nmov ds, ax\n${body}\n${SEND_TO_COM1}\n${data}`, {
    bitness: 16,
    origin: 0x7c00,
  });
  if (code.length > 510)
    throw new RangeError(`the boot sector's code is ${code.length} bytes, more than 510`);
  const sector = new Uint8Array(512);
  sector.set(code);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** A boot sector that writes `message` and CR LF to COM1, then halts. */
export function bootSector(message: string): Uint8Array {
  return bootSectorWith('', `report: db '${message}', 13, 10, 0`);
}
