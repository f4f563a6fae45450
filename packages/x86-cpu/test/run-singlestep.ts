/**
 * Runs every SingleStepTests 80286 vector and prints per-form results plus a summary.
 *   node --conditions=source --import tsx packages/x86-cpu/test/run-singlestep.ts [FORM...] [--fail] [--markdown]
 * `--fail` lists the failures no documented 286-vs-P6 difference explains; `--markdown` prints the
 * results section of the package README.
 */
import { Difference, explain, forms, loadForm, SingleStepHarness } from './singlestep.js';

const args = process.argv.slice(2);
const showFailures = args.includes('--fail');
/** `--markdown`: print the README results section (per-form table keyed by difference letter). */
const markdown = args.includes('--markdown');
const selected = args.filter((a) => !a.startsWith('--'));
const h = new SingleStepHarness();
let pass = 0;
let total = 0;
let unexplained = 0;
const byReason = new Map<string, number>();
const start = performance.now();
const rows: string[] = [];
const letters = Object.values(Difference) as string[];
function letter(reason: string): string {
  const i = letters.indexOf(reason);
  return i < 0 ? reason : String.fromCharCode(65 + i);
}
for (const form of selected.length > 0 ? selected : forms()) {
  const tests = loadForm(form);
  const reasons = new Map<string, number>();
  let formPass = 0;
  for (const t of tests) {
    const f = h.run(form, t);
    total++;
    if (f === null) {
      pass++;
      formPass++;
      continue;
    }
    const why = explain(f, t) ?? 'UNEXPLAINED';
    reasons.set(why, (reasons.get(why) ?? 0) + 1);
    byReason.set(why, (byReason.get(why) ?? 0) + 1);
    if (why === 'UNEXPLAINED') {
      unexplained++;
      if (showFailures)
        console.log(`   ${form} #${t.idx} ${t.name}: ${f.detail} (our vector ${f.ourVector})`);
    }
  }
  if (formPass < tests.length) {
    const list = [...reasons].map(([k, v]) => (markdown ? `${v} ${letter(k)}` : `${v} ${k}`)).join(', ');
    rows.push(`| ${form} | ${formPass}/${tests.length} | ${list} |`);
  }
}
if (markdown) {
  console.log(`${pass} of ${total} vectors pass; ${unexplained} failures are unexplained.\n`);
  console.log('| key | documented 80286-vs-P6 difference | failing vectors |\n|---|---|---|');
  for (const d of letters) console.log(`| ${letter(d)} | ${d} | ${byReason.get(d) ?? 0} |`);
  console.log(
    '\nForms not listed pass all 100 vectors.\n\n| form | passed | failures by key |\n|---|---|---|',
  );
  for (const r of rows) console.log(r);
} else {
  for (const r of rows) console.log(r);
  const secs = ((performance.now() - start) / 1000).toFixed(1);
  console.log(`passed ${pass}/${total}, unexplained ${unexplained}, in ${secs} s`);
  for (const [k, v] of byReason) console.log(`  ${v}\t${k}`);
}
