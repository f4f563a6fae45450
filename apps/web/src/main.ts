import { describeCommandLine } from './describe.js';

const input = document.querySelector<HTMLInputElement>('#cmdline')!;
const out = document.querySelector<HTMLPreElement>('#out')!;
const isolation = document.querySelector<HTMLParagraphElement>('#isolation')!;

isolation.textContent = globalThis.crossOriginIsolated
  ? 'Cross-origin isolated: SharedArrayBuffer is available for guest RAM.'
  : 'Not cross-origin isolated: serve with COOP/COEP headers (pnpm --filter @typevisor/web dev).';

function update(): void {
  const r = describeCommandLine(input.value);
  out.textContent = r.text;
  out.className = r.ok ? '' : 'bad';
}
input.addEventListener('input', update);
update();
