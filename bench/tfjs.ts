/**
 * tfjs's WebGPU backend as a peer, on the same matmul shapes in the same process.
 *
 * Under Node, tfjs finds WebGPU through `navigator.gpu`, and its backend module decides whether to
 * register itself when it is first imported, so the navigator must exist before that import.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { randomArray } from '../src/engine/random';
import type { LayerShape } from './config';
import { layerProducts, productFlops } from './matmul';
import { row, type AdapterInfoOut, type BenchRow } from './report';
import { timeLoop, type Budget } from './timing';

type Tf = typeof TfCore;

// Dawn crashes inside its worker threads if the object create() returned is garbage-collected while
// its devices live, so the one handed to tfjs stays referenced for the life of the process.
const keepAlive: unknown[] = [];

export interface TfjsPeer {
  tf: Tf;
  version: string;
  backend: string;
  adapter?: Partial<AdapterInfoOut>;
}

async function installNavigatorGpu(): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu) return;
  const webgpu = (await import('webgpu')) as unknown as { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create([]);
  keepAlive.push(gpu);
  if (g.navigator) {
    // Node ≥ 21 has a navigator of its own, without gpu.
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
}

/** Loads tfjs with its WebGPU backend active, or says why it could not. */
export async function loadTfjs(): Promise<TfjsPeer> {
  await installNavigatorGpu();
  const tf: Tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") returned false');
  await tf.ready();
  // Compare kernels, not data movement: never hand a matmul to the CPU.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const backend = tf.backend() as WebGPUBackend;
  // Dawn's device carries its adapter's info; tfjs's own AdapterInfo keeps vendor and architecture private.
  const info =
    (backend.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo ??
    (backend.adapterInfo as unknown as Partial<GPUAdapterInfo> | undefined);
  return {
    tf,
    version: tf.version_core,
    backend: tf.getBackend(),
    adapter: info
      ? { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '' }
      : undefined,
  };
}

function input(tf: Tf, rows: number, cols: number, stream: number): TfCore.Tensor2D {
  const data = Float32Array.from(randomArray(rows * cols, 7, stream, { kind: 'uniform', lo: -1, hi: 1 }));
  return tf.tensor2d(data, [rows, cols]);
}

/**
 * Waits until every command tfjs has recorded so far has finished on the GPU: the same sync as our
 * `ctx.flush()` (end the open pass, submit, wait for the queue), so neither side pays for a readback.
 * Falls back to reading the last result if the backend's methods ever change.
 */
async function sync(tf: Tf, last: TfCore.Tensor): Promise<void> {
  const backend = tf.backend() as Partial<WebGPUBackend>;
  if (backend.ensureCommandEncoderReady && backend.endComputePassEncoder && backend.submitQueue && backend.queue) {
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.submitQueue();
    await backend.queue.onSubmittedWorkDone();
  } else {
    await last.data();
  }
}

export async function benchTfjs(
  peer: TfjsPeer,
  T: number,
  shapes: LayerShape[],
  budget: Budget,
  log: (line: string) => void,
): Promise<BenchRow[]> {
  const { tf } = peer;
  const rows: BenchRow[] = [];
  for (const l of shapes) {
    const operands = { x: input(tf, T, l.in, 1), W: input(tf, l.out, l.in, 2), dY: input(tf, T, l.out, 3) };
    for (const p of layerProducts(T, l)) {
      const a = operands[p.a];
      const b = operands[p.b];
      const t = await timeLoop(async (n) => {
        let last: TfCore.Tensor | undefined;
        for (let i = 0; i < n; i++) {
          last?.dispose();
          last = tf.matMul(a, b, p.transA, p.transB);
        }
        await sync(tf, last!);
        last!.dispose();
      }, budget);
      // GPU time: tf.time sums the kernels' timestamp-query durations (0 without the feature).
      const k = Math.max(1, Math.min(20, Math.floor(500 / t.msPerIter)));
      const timed = await tf.time(() => {
        for (let i = 0; i < k; i++) tf.matMul(a, b, p.transA, p.transB).dispose();
      });
      if (typeof timed.kernelMs === 'number' && timed.kernelMs > 0) t.gpuMsPerIter = timed.kernelMs / k;
      const r = row({ suite: 'tfjs', name: `tf.matMul ${p.name}`, layer: l.name, shape: p.shape, flops: productFlops(p) }, t);
      rows.push(r);
      log(`tfjs ${l.name} ${p.name}: ${r.msPerIter.toFixed(2)} ms, ${r.gflops.toFixed(2)} GFLOP/s (${r.iters} iters)`);
    }
    for (const t of Object.values(operands)) t.dispose();
  }
  return rows;
}
