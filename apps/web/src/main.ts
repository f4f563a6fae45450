/**
 * The page: controls, the two consoles (serial0 and the HMP monitor, switched like QEMU's
 * Ctrl-Alt-1 / Ctrl-Alt-2), the progress of image loading and the figures chart. The VM itself runs
 * in a Web Worker (vm.worker.ts); this file only moves bytes and messages.
 */
import '@xterm/xterm/css/xterm.css';
import { DEFAULT_VGA_ROM_PATH, Mux, VERSION } from '@typevisor/qemu';
import { Terminal } from '@xterm/xterm';
import {
  type BootOptions,
  bootArgs,
  DEFAULT_APPEND,
  FILE_ROLES,
  type FileRole,
  MEMORY_CHOICES,
  planBoot,
  type ServedFile,
  shellLine,
} from './boot-options.js';
import {
  drawChart,
  FigureSeries,
  formatRate,
  REASON_COLOURS,
  silentSeconds,
  stackLayers,
} from './figures.js';
import {
  fetchServedBios,
  fetchServedVgaRom,
  MissingBiosError,
  SERVED_BIOS_PATH,
  SERVED_VGA_ROM_PATH,
} from './firmware.js';
import { type ConsoleName, consoleForKey } from './keys.js';
import { fetchWithProgress, formatProgress, type Progress, readWithProgress } from './progress.js';
import { FIGURES_MS, type PageMessage, type RunState, type WorkerMessage } from './protocol.js';

/**
 * What the page serves itself (vite.config.ts): the default guest (tools/images/default-i386) at
 * /default-guest/, and SeaBIOS at /seabios/ when the build machine had it.
 */
const SERVED_URLS: Readonly<Record<ServedFile, string>> = {
  kernel: new URL('default-guest/bzImage', document.baseURI).href,
  initrd: new URL('default-guest/initrd.cpio.gz', document.baseURI).href,
  bios: new URL(SERVED_BIOS_PATH, document.baseURI).href,
};

function el<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`index.html has no #${id}`);
  return e as T;
}

const ui = {
  isolation: el<HTMLParagraphElement>('isolation'),
  form: el<HTMLFormElement>('controls'),
  memory: el<HTMLSelectElement>('memory'),
  ept: el<HTMLInputElement>('ept'),
  startPaused: el<HTMLInputElement>('start-paused'),
  append: el<HTMLInputElement>('append'),
  kernel: el<HTMLInputElement>('kernel'),
  initrd: el<HTMLInputElement>('initrd'),
  cdrom: el<HTMLInputElement>('cdrom'),
  disk: el<HTMLInputElement>('disk'),
  bios: el<HTMLInputElement>('bios'),
  clearFiles: el<HTMLButtonElement>('clear-files'),
  boot: el<HTMLButtonElement>('boot'),
  pause: el<HTMLButtonElement>('pause'),
  reset: el<HTMLButtonElement>('reset'),
  quit: el<HTMLButtonElement>('quit'),
  state: el<HTMLSpanElement>('state'),
  cmdline: el<HTMLElement>('cmdline'),
  progressBox: el<HTMLDivElement>('progress-box'),
  progress: el<HTMLProgressElement>('progress'),
  progressText: el<HTMLSpanElement>('progress-text'),
  error: el<HTMLParagraphElement>('error'),
  chart: el<HTMLCanvasElement>('chart'),
  screenBox: el<HTMLDivElement>('screen-box'),
  legend: el<HTMLDivElement>('legend'),
};

for (const m of MEMORY_CHOICES) ui.memory.add(new Option(`${m} MiB`, `${m}`, m === 128, m === 128));
ui.append.value = DEFAULT_APPEND;

const isolated = globalThis.crossOriginIsolated === true;
ui.isolation.textContent = isolated
  ? 'Cross-origin isolated: SharedArrayBuffer is available for guest RAM.'
  : 'Not cross-origin isolated: guest RAM needs SharedArrayBuffer. Serve the page with COOP/COEP headers (pnpm --filter @typevisor/web dev or preview).';

// ---- consoles ----------------------------------------------------------------------------------------

const termOptions = { cols: 80, rows: 25, fontSize: 14, fontFamily: 'monospace', scrollback: 2000 } as const;
const serial = new Terminal(termOptions);
const monitor = new Terminal(termOptions);
serial.open(el('serial0'));
monitor.open(el('compat_monitor0'));
const terminals: Record<ConsoleName, Terminal> = { serial0: serial, compat_monitor0: monitor };
let active: ConsoleName = 'serial0';

function switchTo(name: ConsoleName): void {
  active = name;
  for (const n of Object.keys(terminals) as ConsoleName[]) {
    el(n).classList.toggle('inactive', n !== name);
    el(`tab-${n}`).setAttribute('aria-selected', String(n === name));
  }
  terminals[name].focus();
}
for (const n of Object.keys(terminals) as ConsoleName[])
  el(`tab-${n}`).addEventListener('click', () => switchTo(n));
// Capture phase: the switch keys never reach the terminals (or the guest).
window.addEventListener(
  'keydown',
  (e) => {
    const to = consoleForKey(e);
    if (to === undefined) return;
    e.preventDefault();
    e.stopPropagation();
    switchTo(to);
  },
  true,
);

// The monitor panel edits lines with the frontend's own mux (focused on the monitor), as -nographic does.
const monitorMux = new Mux();
monitorMux.focus = 'monitor';
monitor.write(`typevisor ${VERSION} monitor - type 'help' for more information\r\n(qemu) `);
const encoder = new TextEncoder();
let nextId = 1;
const pendingMonitor = new Map<number, true>();

function monitorReply(text: string): void {
  monitor.write(`${text === '' ? '' : `${text.replaceAll('\n', '\r\n')}\r\n`}(qemu) `);
}

monitor.onData((data) => {
  const out = monitorMux.feed(encoder.encode(data));
  if (out.focusChanged) {
    // Ctrl-A c: as in -nographic, it switches to the serial console.
    monitorMux.focus = 'monitor';
    switchTo('serial0');
  }
  if (out.echo !== '' && !out.focusChanged) monitor.write(out.echo);
  for (const line of out.monitorLines) {
    if (worker === undefined) monitorReply(line.trim() === '' ? '' : 'no machine is running: boot one first');
    else sendMonitor(line, true);
  }
  if (out.quit && worker !== undefined) {
    // Ctrl-A x: QEMU terminates; here the machine's worker ends.
    stopWorker();
    setState('ended', ' (quit)');
  }
});

serial.onData((data) => post({ type: 'serial', bytes: encoder.encode(data) }));

// ---- the VM worker -----------------------------------------------------------------------------------

let worker: Worker | undefined;
let series = new FigureSeries();

function post(msg: PageMessage, transfer: Transferable[] = []): void {
  worker?.postMessage(msg, transfer);
}

/** Sends a monitor command; typed ones print their answer in the panel, controls show it as an error. */
function sendMonitor(line: string, typed: boolean): void {
  const id = nextId++;
  if (typed) pendingMonitor.set(id, true);
  post({ type: 'monitor', id, line });
}

function showError(message: string): void {
  ui.error.hidden = message === '';
  ui.error.textContent = message;
}

let stateBase = '';
/** When the worker last sent figures (page time); it sends them every FIGURES_MS unless it is stuck. */
let lastHeard = 0;

function setState(s: RunState | 'none', note = ''): void {
  stateBase = `${s === 'none' ? 'no machine' : s}${note}`;
  ui.state.textContent = stateBase;
  const live = s !== 'none' && s !== 'ended';
  ui.pause.disabled = !live || s === 'shutdown' || s === 'error';
  ui.pause.textContent = s === 'paused' || s === 'prelaunch' || s === 'paused-shutdown' ? 'Resume' : 'Pause';
  ui.reset.disabled = !live;
  ui.quit.disabled = !live;
}

// The watchdog: a worker that stops sending figures is inside one long KVM_RUN and cannot answer.
setInterval(() => {
  if (worker === undefined || lastHeard === 0) return;
  const silent = silentSeconds(lastHeard, performance.now(), FIGURES_MS);
  ui.state.textContent =
    silent === 0 ? stateBase : `${stateBase} (not responding for ${silent} s: the vCPU has not left KVM_RUN)`;
}, 1000);

function onWorkerMessage(msg: WorkerMessage): void {
  switch (msg.type) {
    case 'serial':
      serial.write(msg.bytes);
      return;
    case 'monitor':
      if (pendingMonitor.delete(msg.id)) monitorReply(msg.text);
      else if (msg.text !== '') showError(msg.text);
      return;
    case 'status':
      setState(msg.state);
      return;
    case 'figures':
      lastHeard = msg.state === 'ended' ? 0 : performance.now();
      series.push(msg.sample);
      renderFigures(msg.sample.exits);
      return;
    case 'error':
      showError(msg.message);
      serial.write(`\r\n\x1b[31m${msg.message}\x1b[0m\r\n`);
      stopWorker();
      return;
    case 'exit':
      setState('ended', ` (exit status ${msg.status})`);
      return;
  }
}

function stopWorker(): void {
  worker?.terminate();
  worker = undefined;
  lastHeard = 0;
  pendingMonitor.clear();
  setState('none');
}

function renderFigures(totalExits: number): void {
  const ctx = ui.chart.getContext('2d');
  if (ctx !== null) drawChart(ctx, series);
  const last = series.rates.at(-1);
  const lines: string[] = [];
  lines.push(`exits: ${totalExits} (${formatRate(last?.exitsPerSec ?? 0)}/s)`);
  stackLayers(series).forEach((layer, i) => {
    const rate =
      layer.name === 'other'
        ? (layer.tops.at(-1) ?? 0) - (stackLayers(series)[i - 1]?.tops.at(-1) ?? 0)
        : (last?.byReason[layer.name] ?? 0);
    lines.push(
      `<span class="swatch" style="background:${REASON_COLOURS[i] ?? '#888'}"></span>${layer.name}: ${formatRate(rate)}/s`,
    );
  });
  lines.push(
    last?.mips === null || last === undefined
      ? 'guest MIPS: n/a (the vCPU has not run yet)'
      : `guest MIPS: ${last.mips.toFixed(1)}`,
  );
  ui.legend.innerHTML = lines.join('<br>');
}

// ---- booting -----------------------------------------------------------------------------------------

interface Chosen {
  readonly name: string;
  /** The bytes, or undefined for an optional file the page does not have (the VGA BIOS). */
  readonly load: (onProgress: (p: Progress) => void) => Promise<Uint8Array | undefined>;
}

const pickers: Readonly<Record<FileRole, HTMLInputElement>> = {
  bios: ui.bios,
  kernel: ui.kernel,
  initrd: ui.initrd,
  cdrom: ui.cdrom,
  disk: ui.disk,
};

/** The files to load and the options to boot with, from the controls; or why they cannot boot. */
function plan(): { options: BootOptions; files: Chosen[] } | { error: string } {
  const picked: Partial<Record<FileRole, File>> = {};
  const names: Partial<Record<FileRole, string>> = {};
  for (const role of FILE_ROLES) {
    const file = pickers[role].files?.[0];
    if (file === undefined) continue;
    picked[role] = file;
    names[role] = file.name;
  }
  const p = planBoot(names, {
    memoryMiB: Number(ui.memory.value),
    ept: ui.ept.checked,
    startPaused: ui.startPaused.checked,
    append: ui.append.value,
  });
  if ('error' in p) return p;
  const files = p.files.map((f): Chosen => {
    if (f.source === 'local') {
      const file = picked[f.role]!;
      // Read into memory; the worker's drives are byte arrays (the CD-ROM read-only, as -cdrom is).
      return { name: f.name, load: (cb) => readWithProgress(file.stream(), f.name, file.size, cb) };
    }
    const url = SERVED_URLS[f.role];
    return {
      name: f.name,
      load: (cb) =>
        f.role === 'bios' ? fetchServedBios(url, f.name, cb) : fetchWithProgress(url, f.name, cb),
    };
  });
  // A firmware boot also gets SeaBIOS's VGA BIOS when the page serves it, under the path the VM looks
  // it up by (as the CLI finds it next to Debian's SeaBIOS), so the VGA shows what the BIOS draws.
  if (p.files.some((f) => f.role === 'bios')) {
    const url = new URL(SERVED_VGA_ROM_PATH, document.baseURI).href;
    files.push({
      name: DEFAULT_VGA_ROM_PATH,
      load: (cb) => fetchServedVgaRom(url, 'vgabios-stdvga.bin', cb),
    });
  }
  return { options: p.options, files };
}

function showProgress(done: number, total: number, p: Progress | undefined): void {
  ui.progressBox.hidden = false;
  const fraction = p?.total ? p.loaded / p.total : 0;
  ui.progress.value = total === 0 ? 1 : (done + fraction) / total;
  ui.progressText.textContent = p === undefined ? '' : `loading ${done + 1}/${total}: ${formatProgress(p)}`;
}

async function boot(): Promise<void> {
  showError('');
  if (!isolated) {
    showError(
      'This page is not cross-origin isolated, so guest RAM (a SharedArrayBuffer) cannot be allocated.',
    );
    return;
  }
  // Files that cannot boot together leave a running machine alone.
  const planned = plan();
  if ('error' in planned) {
    showError(planned.error);
    return;
  }
  const { options, files } = planned;
  stopWorker();
  serial.reset();
  series = new FigureSeries();
  renderFigures(0);
  const args = bootArgs(options);
  ui.cmdline.textContent = `typevisor ${shellLine(args)}`;
  ui.boot.disabled = true;
  setState('none', ' (loading images)');
  const bytes: Record<string, Uint8Array> = {};
  try {
    for (const [i, f] of files.entries()) {
      const b = await f.load((p) => showProgress(i, files.length, p));
      if (b !== undefined) bytes[f.name] = b;
    }
    showProgress(files.length, files.length, undefined);
  } catch (e) {
    ui.progressBox.hidden = true;
    showError(
      e instanceof MissingBiosError
        ? e.message
        : `Could not load the images: ${e instanceof Error ? e.message : String(e)}`,
    );
    setState('none');
    return;
  } finally {
    ui.boot.disabled = false;
  }
  ui.progressBox.hidden = true;
  // A canvas hands its drawing to one worker for good: each machine gets a fresh one.
  const canvas = document.createElement('canvas');
  canvas.id = 'vga';
  canvas.width = 720;
  canvas.height = 400;
  canvas.setAttribute('aria-label', 'VGA display');
  ui.screenBox.replaceChildren(canvas);
  const screen = canvas.transferControlToOffscreen();
  const w = new Worker(new URL('./vm.worker.ts', import.meta.url), { type: 'module', name: 'vcpu0' });
  worker = w;
  w.onmessage = (e: MessageEvent<WorkerMessage>) => {
    if (worker === w) onWorkerMessage(e.data);
  };
  w.onerror = (e) => {
    if (worker !== w) return;
    showError(`typevisor: the VM worker failed: ${e.message}`);
    setState('ended', ' (worker failed)');
  };
  setState('prelaunch');
  lastHeard = performance.now();
  post({ type: 'boot', args, files: bytes, screen }, [
    ...Object.values(bytes).map((b) => b.buffer as ArrayBuffer),
    screen,
  ]);
  terminals[active].focus();
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  void boot();
});
ui.clearFiles.addEventListener('click', () => {
  for (const input of Object.values(pickers)) input.value = '';
});
ui.pause.addEventListener('click', () =>
  sendMonitor(ui.pause.textContent === 'Resume' ? 'cont' : 'stop', false),
);
ui.reset.addEventListener('click', () => sendMonitor('system_reset', false));
ui.quit.addEventListener('click', () => {
  stopWorker();
  setState('ended', ' (quit)');
});
setState('none');
renderFigures(0);
