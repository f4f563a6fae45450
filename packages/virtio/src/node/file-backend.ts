import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BlockBackend, OverlayBlockBackend } from '../devices/blk/backend.js';

const ZERO_CHUNK = 64 * 1024;

/**
 * A raw disk image file (QEMU `format=raw`). Reads and writes are positional and synchronous;
 * `flush` is fsync(2), so a guest's FLUSH request returns only once the data is on the disk.
 * Host errors become `false` (VIRTIO_BLK_S_IOERR for the guest).
 */
export class FileBlockBackend implements BlockBackend {
  readonly size: number;
  private fd: number | null;

  private constructor(
    fd: number,
    readonly path: string,
    readonly readOnly: boolean,
  ) {
    this.fd = fd;
    this.size = fstatSync(fd).size;
  }

  /** Opens `path` read-write, or read-only (`readonly=on`); throws if the file cannot be opened. */
  static open(path: string, options: { readOnly?: boolean } = {}): FileBlockBackend {
    const readOnly = options.readOnly ?? false;
    return new FileBlockBackend(openSync(path, readOnly ? 'r' : 'r+'), path, readOnly);
  }

  private inRange(offset: number, length: number): boolean {
    return this.fd !== null && offset >= 0 && length >= 0 && offset + length <= this.size;
  }

  read(offset: number, dst: Uint8Array): boolean {
    if (!this.inRange(offset, dst.length)) return false;
    try {
      let done = 0;
      while (done < dst.length) {
        const n = readSync(this.fd!, dst, done, dst.length - done, offset + done);
        if (n === 0) return false;
        done += n;
      }
      return true;
    } catch {
      return false;
    }
  }

  write(offset: number, src: Uint8Array): boolean {
    if (this.readOnly || !this.inRange(offset, src.length)) return false;
    try {
      let done = 0;
      while (done < src.length) done += writeSync(this.fd!, src, done, src.length - done, offset + done);
      return true;
    } catch {
      return false;
    }
  }

  flush(): boolean {
    if (this.fd === null) return false;
    if (this.readOnly) return true;
    try {
      fsyncSync(this.fd);
      return true;
    } catch {
      return false;
    }
  }

  /** Accepted and ignored: there is no portable hole-punching call in Node, and discard is only a hint. */
  discard(offset: number, length: number): boolean {
    return !this.readOnly && this.inRange(offset, length);
  }

  writeZeroes(offset: number, length: number): boolean {
    if (this.readOnly || !this.inRange(offset, length)) return false;
    const zeroes = new Uint8Array(Math.min(ZERO_CHUNK, length));
    for (let done = 0; done < length; done += zeroes.length) {
      if (!this.write(offset + done, zeroes.subarray(0, Math.min(zeroes.length, length - done))))
        return false;
    }
    return true;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** QEMU `-drive` options this package understands (the frontend maps the command line onto them). */
export interface DriveOptions {
  readonly file: string;
  /** Only raw images. */
  readonly format?: 'raw';
  readonly readonly?: boolean;
  /** `-snapshot` / `snapshot=on`: writes go to a temporary overlay that disappears on close. */
  readonly snapshot?: boolean;
}

export interface OpenDrive {
  readonly backend: BlockBackend;
  close(): void;
}

/**
 * Opens a drive as QEMU's `-drive file=...,format=raw[,readonly=on][,snapshot=on]` does. With
 * `snapshot` the image is opened read-only and a sparse temporary file of the same size holds the
 * guest's writes (unlinked at once where the OS allows, like QEMU's temporary qcow2).
 */
export function openDrive(options: DriveOptions): OpenDrive {
  const readOnly = options.readonly ?? false;
  const base = FileBlockBackend.open(options.file, { readOnly: readOnly || (options.snapshot ?? false) });
  if (!options.snapshot || readOnly) return { backend: base, close: () => base.close() };
  const dir = mkdtempSync(join(tmpdir(), 'typevisor-snapshot-'));
  const overlayPath = join(dir, 'overlay.raw');
  const fd = openSync(overlayPath, 'w+');
  ftruncateSync(fd, base.size);
  closeSync(fd);
  const overlayFile = FileBlockBackend.open(overlayPath);
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    remove();
  } catch {
    removed = false;
  }
  return {
    backend: new OverlayBlockBackend(base, overlayFile),
    close: () => {
      overlayFile.close();
      base.close();
      remove();
    },
  };
}
