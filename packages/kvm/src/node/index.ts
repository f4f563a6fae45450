/**
 * Node-only parts of the KVM facade: vCPU workers on `worker_threads`. The browser build never imports
 * this subpath; there a Web Worker script calls `serveVcpuThread(self)` and the VMM wraps the Worker in
 * a `VcpuWorkerPort` the same way.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { KvmHost } from '../kernel/host.js';
import type { FromVcpuThread, ToVcpuThread } from '../worker/protocol.js';
import { VcpuWorker, type VcpuWorkerPort } from '../worker/vcpu-worker.js';

/**
 * The worker's script. Built (dist/node/vcpu-worker-entry.js) it runs as is; from the TypeScript
 * sources (tests, `--conditions=source`) the worker first registers tsx's loader, which Node 20 does not
 * apply to a worker's entry from `execArgv`.
 */
function workerScript(): { code: URL | string; eval: boolean } {
  const entry = new URL(
    `./vcpu-worker-entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
    import.meta.url,
  );
  if (!entry.pathname.endsWith('.ts')) return { code: entry, eval: false };
  const require = createRequire(import.meta.url);
  const tsx = pathToFileURL(join(dirname(require.resolve('tsx/esm/api')), 'index.mjs')).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return { code, eval: true };
}

/** Young generation of a vCPU worker's heap (three semi-spaces' worth: 2 MiB each). */
const VCPU_YOUNG_GENERATION_MB = 6;

/** A new Node worker thread serving one vCPU, as a {@link VcpuWorkerPort}. */
export function spawnVcpuWorker(): VcpuWorkerPort {
  const { code, eval: isEval } = workerScript();
  const source = import.meta.url.endsWith('.ts');
  const worker = new Worker(code, {
    eval: isEval,
    execArgv: source ? ['--conditions=source'] : [],
    name: 'typevisor-vcpu',
    // The vCPU loop allocates next to nothing per instruction: a small young generation (2 MiB
    // semi-spaces instead of V8's default of up to 16 MiB) keeps its resident size down and costs no
    // speed (Debian 686 boot: 20 MiB less peak RSS, `bench/boot.bench.ts`).
    resourceLimits: { maxYoungGenerationSizeMb: VCPU_YOUNG_GENERATION_MB },
  });
  let terminated = false;
  return {
    postMessage: (m: ToVcpuThread) => worker.postMessage(m),
    listen(message, failure) {
      worker.on('message', (m: FromVcpuThread) => message(m));
      worker.on('error', (e: Error) => failure(e));
      worker.on('messageerror', (e: Error) => failure(e));
      worker.on('exit', (code: number) => {
        if (!terminated) failure(new Error(`vCPU worker exited with code ${code}`));
      });
    },
    async terminate() {
      terminated = true;
      await worker.terminate();
    },
  };
}

/** Runs the vCPU behind `vcpufd` in a new Node worker thread (see {@link VcpuWorker.attach}). */
export function startVcpuWorker(host: KvmHost, vcpufd: number): Promise<VcpuWorker> {
  return VcpuWorker.attach(host, vcpufd, spawnVcpuWorker());
}

export { VcpuWorker, type VcpuWorkerPort } from '../worker/vcpu-worker.js';
