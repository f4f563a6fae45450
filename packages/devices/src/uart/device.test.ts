// Behaviour checked against the TI PC16550D datasheet (SNLS378C): Table II (registers), Table IV
// (interrupt control functions), sections 8.4-8.8.
import { CollectingSink, FakeIrqLine, QueueSource } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { Uart16550 } from './device.js';
import * as R from './registers.js';

function make(opts: { gate?: boolean } = {}) {
  const irq = new FakeIrqLine();
  const out = new CollectingSink();
  const input = new QueueSource();
  const uart = new Uart16550({ irq, output: out, input, gateIrqWithOut2: opts.gate ?? false });
  return { uart, irq, out, input };
}
const rd = (u: Uart16550, off: number) => u.read(off, 1);
const wr = (u: Uart16550, off: number, v: number) => u.write(off, 1, v);

describe('Uart16550', () => {
  it('sends THR writes to the output sink', () => {
    const { uart, out } = make();
    for (const c of 'hi\n') wr(uart, R.THR_OFFSET, c.charCodeAt(0));
    expect(out.text()).toBe('hi\n');
  });

  it('reports THR empty and transmitter empty in LSR after reset', () => {
    const { uart } = make();
    expect(rd(uart, R.LSR_OFFSET)).toBe(R.LSR_THRE | R.LSR_TEMT);
    expect(rd(uart, R.IIR_OFFSET)).toBe(R.IIR_NO_INT);
  });

  it('raises a THR-empty interrupt as soon as ETBEI is enabled with THR empty', () => {
    const { uart, irq } = make();
    wr(uart, R.IER_OFFSET, R.IER_THRE_BIT);
    expect(irq.level).toBe(true);
    expect(rd(uart, R.IIR_OFFSET) & 0x0f).toBe(R.IIR_ID_THRE);
    // Reading IIR with THRE as the source clears it (Table IV).
    expect(irq.level).toBe(false);
    expect(rd(uart, R.IIR_OFFSET) & 0x0f).toBe(R.IIR_NO_INT);
    // Writing THR re-arms it once the byte has gone.
    wr(uart, R.THR_OFFSET, 0x41);
    expect(irq.level).toBe(true);
    expect(irq.risingEdges).toBe(2);
  });

  it('divisor latch shadows RBR/THR and IER while DLAB is set', () => {
    const { uart, out } = make();
    wr(uart, R.LCR_OFFSET, R.LCR_DLAB | 0x03);
    wr(uart, R.DLL_OFFSET, 0x01);
    wr(uart, R.DLM_OFFSET, 0x00);
    expect(rd(uart, R.DLL_OFFSET)).toBe(1);
    expect(uart.baudRate).toBe(115200);
    expect(out.bytes).toEqual([]);
    wr(uart, R.LCR_OFFSET, 0x03);
    expect(rd(uart, R.IER_OFFSET)).toBe(0);
  });

  it('received data sets DR and the RDA interrupt; reading RBR clears both', () => {
    const { uart, irq } = make();
    wr(uart, R.IER_OFFSET, R.IER_RDA_BIT);
    expect(uart.receive(0x5a)).toBe(true);
    expect(rd(uart, R.LSR_OFFSET) & R.LSR_DR).toBe(R.LSR_DR);
    expect(rd(uart, R.IIR_OFFSET)).toBe(R.IIR_ID_RDA);
    expect(irq.level).toBe(true);
    expect(rd(uart, R.RBR_OFFSET)).toBe(0x5a);
    expect(irq.level).toBe(false);
    expect(rd(uart, R.LSR_OFFSET) & R.LSR_DR).toBe(0);
  });

  it('holds one byte without FIFOs and 16 with them, refusing the rest', () => {
    const { uart } = make();
    expect(uart.receiveBytes([1, 2, 3])).toBe(1);
    wr(uart, R.FCR_OFFSET, R.FCR_FIFO_ENABLE);
    expect(uart.receiveBytes(new Array(20).fill(7))).toBe(16);
    expect(uart.rxSpace).toBe(0);
    expect(rd(uart, R.LSR_OFFSET) & R.LSR_OE).toBe(0);
  });

  it('reports RDA at the FIFO trigger level and a character timeout below it', () => {
    const { uart } = make();
    wr(uart, R.FCR_OFFSET, R.FCR_FIFO_ENABLE | 0x40); // trigger level 4
    wr(uart, R.IER_OFFSET, R.IER_RDA_BIT);
    uart.receiveBytes([1, 2, 3]);
    expect(rd(uart, R.IIR_OFFSET)).toBe(R.IIR_FIFO_ENABLED | R.IIR_ID_TIMEOUT);
    uart.receive(4);
    expect(rd(uart, R.IIR_OFFSET)).toBe(R.IIR_FIFO_ENABLED | R.IIR_ID_RDA);
  });

  it('FCR RX reset empties the FIFO', () => {
    const { uart } = make();
    wr(uart, R.FCR_OFFSET, R.FCR_FIFO_ENABLE);
    uart.receiveBytes([1, 2, 3]);
    wr(uart, R.FCR_OFFSET, R.FCR_FIFO_ENABLE | R.FCR_RX_RESET);
    expect(rd(uart, R.LSR_OFFSET) & R.LSR_DR).toBe(0);
  });

  it('loopback echoes THR into RBR and never reaches the sink', () => {
    const { uart, out } = make();
    wr(uart, R.MCR_OFFSET, R.MCR_LOOP);
    wr(uart, R.THR_OFFSET, 0x99);
    expect(rd(uart, R.RBR_OFFSET)).toBe(0x99);
    expect(out.bytes).toEqual([]);
  });

  it('loopback overflow sets the overrun error and the line-status interrupt, cleared by reading LSR', () => {
    const { uart, irq } = make();
    wr(uart, R.IER_OFFSET, R.IER_RLS_BIT);
    wr(uart, R.MCR_OFFSET, R.MCR_LOOP);
    wr(uart, R.THR_OFFSET, 1);
    wr(uart, R.THR_OFFSET, 2);
    expect(rd(uart, R.IIR_OFFSET)).toBe(R.IIR_ID_RLS);
    expect(irq.level).toBe(true);
    expect(rd(uart, R.LSR_OFFSET) & R.LSR_OE).toBe(R.LSR_OE);
    expect(rd(uart, R.LSR_OFFSET) & R.LSR_OE).toBe(0);
    expect(irq.level).toBe(false);
    expect(rd(uart, R.RBR_OFFSET)).toBe(1);
  });

  it('loopback wires RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD with delta bits', () => {
    const { uart } = make();
    wr(uart, R.MCR_OFFSET, R.MCR_LOOP);
    rd(uart, R.MSR_OFFSET);
    wr(uart, R.MCR_OFFSET, R.MCR_LOOP | R.MCR_RTS | R.MCR_DTR | R.MCR_OUT1 | R.MCR_OUT2);
    expect(rd(uart, R.MSR_OFFSET)).toBe(
      R.MSR_CTS | R.MSR_DSR | R.MSR_RI | R.MSR_DCD | R.MSR_DCTS | R.MSR_DDSR | R.MSR_DDCD,
    );
    wr(uart, R.MCR_OFFSET, R.MCR_LOOP);
    // RI going inactive sets TERI (trailing edge); reading MSR clears the deltas.
    expect(rd(uart, R.MSR_OFFSET) & R.MSR_DELTA_BITS).toBe(R.MSR_DCTS | R.MSR_DDSR | R.MSR_TERI | R.MSR_DDCD);
    expect(rd(uart, R.MSR_OFFSET) & R.MSR_DELTA_BITS).toBe(0);
  });

  it('modem status changes raise the lowest-priority interrupt', () => {
    const { uart, irq } = make();
    wr(uart, R.IER_OFFSET, R.IER_MSI_BIT | R.IER_THRE_BIT);
    expect(rd(uart, R.IIR_OFFSET)).toBe(R.IIR_ID_THRE); // THRE outranks modem status
    uart.setModemInputs({ cts: false });
    expect(rd(uart, R.IIR_OFFSET)).toBe(R.IIR_ID_MSI);
    expect(rd(uart, R.MSR_OFFSET) & R.MSR_DCTS).toBe(R.MSR_DCTS);
    expect(irq.level).toBe(false);
  });

  it('keeps the scratch register', () => {
    const { uart } = make();
    wr(uart, R.SCR_OFFSET, 0xa5);
    expect(rd(uart, R.SCR_OFFSET)).toBe(0xa5);
  });

  it('gates the interrupt output with OUT2 when asked to, as on a PC board', () => {
    const { uart, irq } = make({ gate: true });
    wr(uart, R.IER_OFFSET, R.IER_THRE_BIT);
    expect(irq.level).toBe(false);
    wr(uart, R.MCR_OFFSET, R.MCR_OUT2);
    expect(irq.level).toBe(true);
  });

  it('refills from the input source as the guest drains RBR', () => {
    const { uart, input } = make();
    input.push('abc');
    expect(uart.pollInput()).toBe(1);
    expect(rd(uart, R.RBR_OFFSET)).toBe(0x61);
    expect(rd(uart, R.RBR_OFFSET)).toBe(0x62);
    expect(rd(uart, R.RBR_OFFSET)).toBe(0x63);
    expect(rd(uart, R.LSR_OFFSET) & R.LSR_DR).toBe(0);
  });

  it('state round-trips through JSON', () => {
    const { uart } = make();
    wr(uart, R.FCR_OFFSET, R.FCR_FIFO_ENABLE);
    wr(uart, R.IER_OFFSET, 0x0f);
    uart.receiveBytes([1, 2]);
    const copy = Uart16550.fromState(JSON.parse(JSON.stringify(uart.getState())));
    expect(copy.getState()).toEqual(uart.getState());
    expect(rd(copy, R.RBR_OFFSET)).toBe(1);
  });

  it('rejects malformed snapshots', () => {
    const bad = { ...make().uart.getState(), rxFifo: new Array(17).fill(0) };
    expect(() => Uart16550.fromState(bad)).toThrow(/InvalidState/);
  });
});
