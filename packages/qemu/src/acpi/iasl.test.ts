// Oracle: Intel's ACPICA disassembler (`iasl -d`, Debian's acpica-tools) reads the tables the pc
// machine builds, and its output is compared with the committed golden .dsl files; the raw bytes are
// committed too (tables.hex), so the tables are checked against the recorded disassembly even where
// iasl is not installed. Record both after a deliberate change with
//   TYPEVISOR_RECORD_ACPI=1 npx vitest run packages/qemu/src/acpi/iasl.test.ts
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PCI_MMIO_BASE, PCI_MMIO_END } from '../machine/pci-bus.js';
import { buildPcAcpi } from './pc.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const RECORD = process.env.TYPEVISOR_RECORD_ACPI === '1';
const IASL = spawnSync('iasl', ['-v'], { encoding: 'utf8' }).status === 0;

const CONFIGS = [
  { dir: 'pc', apic: false },
  { dir: 'pc-kernel-irqchip', apic: true },
] as const;

/** The tables `iasl -d` can read on their own (it does not disassemble a bare RSDP). */
const DISASSEMBLED = ['DSDT', 'FACP', 'FACS', 'APIC', 'RSDT', 'XSDT'];

function tablesOf(apic: boolean) {
  return buildPcAcpi({ cpus: 1, apic, pciMmio: { base: PCI_MMIO_BASE, end: PCI_MMIO_END } }).tables;
}

function hexDump(tables: ReturnType<typeof tablesOf>): string {
  return `${[...tables]
    .map(([sig, t]) => `${sig} ${t.addr.toString(16)} ${Buffer.from(t.bytes).toString('hex')}`)
    .join('\n')}\n`;
}

/** iasl's output without its banner comment (version, date, file name). */
function normalize(dsl: string): string {
  const lines = dsl.split('\n');
  const end = lines.findIndex((l) => l.trim() === '*/');
  return `${lines
    .slice(lines[0]?.startsWith('/*') ? end + 1 : 0)
    .map((l) => l.trimEnd())
    .join('\n')
    .trim()}\n`;
}

function disassemble(tables: ReturnType<typeof tablesOf>): Map<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'typevisor-acpi-'));
  try {
    const out = new Map<string, string>();
    for (const sig of DISASSEMBLED) {
      const t = tables.get(sig);
      if (t === undefined) continue;
      const file = `${sig.toLowerCase()}.dat`;
      writeFileSync(join(dir, file), t.bytes);
      execFileSync('iasl', ['-d', file], { cwd: dir, stdio: 'pipe' });
      out.set(sig, normalize(readFileSync(join(dir, `${sig.toLowerCase()}.dsl`), 'utf8')));
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('pc ACPI tables against the ACPICA disassembler (iasl -d)', () => {
  for (const c of CONFIGS) {
    it(`${c.dir}: the bytes are the ones whose disassembly was recorded`, () => {
      const tables = tablesOf(c.apic);
      const file = join(GOLDEN, c.dir, 'tables.hex');
      if (RECORD) {
        mkdirSync(join(GOLDEN, c.dir), { recursive: true });
        writeFileSync(file, hexDump(tables));
      }
      expect(hexDump(tables)).toBe(readFileSync(file, 'utf8'));
      expect(tables.has('APIC')).toBe(c.apic);
    });

    it(`${c.dir}: iasl -d disassembles every table to the golden .dsl`, () => {
      if (!IASL) {
        // Plainly: without acpica-tools only the recorded bytes (previous test) are compared.
        console.warn('iasl is not installed (apt-get install acpica-tools): the disassembly is not checked');
        expect(IASL).toBe(false);
        return;
      }
      const dsl = disassemble(tablesOf(c.apic));
      for (const [sig, text] of dsl) {
        const file = join(GOLDEN, c.dir, `${sig.toLowerCase()}.dsl`);
        if (RECORD) writeFileSync(file, text);
        expect(text, sig).toBe(readFileSync(file, 'utf8'));
        expect(text, sig).not.toMatch(/Invalid|\*\*\*\* ACPI|Warning|Error/);
      }
      expect([...dsl.keys()]).toEqual(DISASSEMBLED.filter((s) => c.apic || s !== 'APIC'));
    });
  }
});
