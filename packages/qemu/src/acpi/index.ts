export * as Aml from './aml.js';
export { type AcpiBlob, buildPcAcpi, PC_ACPI, type PcAcpiOptions, pcDsdtAml } from './pc.js';
export { checksum8, FADT, FADT_FLAG, MADT } from './tables.js';
