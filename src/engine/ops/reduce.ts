/**
 * Sum-reduction over rows (column sums): the gradient of a bias is the column sums of dY, and
 * the gradient of a position embedding is the sum of dY over the batch. One pipeline
 * (shaders/reduce.wgsl); tall inputs take two launches of it (row chunks, then their partials).
 */
import reduceWgsl from '../../../shaders/reduce.wgsl';
import { Tensor } from '../tensor';
import { kernelCode, shapeText, uniforms } from './kernel';

export interface SumRowsOptions {
  /** Write into this tensor (cols values) instead of a new one. */
  out?: Tensor;
  /** Multiplies the sum (default 1). */
  alpha?: number;
  /** out = out + alpha·sum instead of out = alpha·sum (`out` required): gradient accumulation. */
  accumulate?: boolean;
  /**
   * A strided view of x: `rows` rows of `cols` values, row r starting at element
   * offset + r·rowStride. Defaults: x as a (size / x.cols, x.cols) matrix, contiguous.
   */
  rows?: number;
  cols?: number;
  rowStride?: number;
  offset?: number;
  op?: string;
}

/** Rows per launch-one chunk: one chunk below this many rows; otherwise up to 64 chunks. */
const SINGLE_PASS_ROWS = 512;

/** How `rows` rows are split into chunks for a two-stage column reduction. */
export function rowChunks(rows: number): { chunks: number; rowsPerChunk: number } {
  if (rows <= SINGLE_PASS_ROWS) return { chunks: 1, rowsPerChunk: Math.max(1, rows) };
  const chunks = Math.min(64, Math.ceil(rows / 256));
  return { chunks, rowsPerChunk: Math.ceil(rows / chunks) };
}

interface ColumnSumLaunch {
  op: string;
  x: GPUBuffer;
  out: GPUBuffer;
  rows: number;
  cols: number;
  rowStride: number;
  offset: number;
  rowsPerChunk: number;
  chunks: number;
  alpha: number;
  beta: number;
}

/** One launch of the column-sum kernel: Out[chunk·cols + c] = α·Σ_chunk + β·Out. */
export function launchColumnSum(ctx: Tensor['ctx'], l: ColumnSumLaunch): void {
  const { buffer, u, f } = uniforms(12);
  u.set([l.rows, l.cols, l.rowStride, l.offset, l.rowsPerChunk]);
  f[8] = l.alpha;
  f[9] = l.beta;
  ctx.launch({
    op: l.op,
    shapes: { rows: l.rows, cols: l.cols, chunks: l.chunks },
    code: kernelCode(reduceWgsl, {}, 'reduce.wgsl'),
    uniforms: buffer,
    bindings: [
      { buffer: l.x, access: 'read' },
      { buffer: l.out, access: 'write' },
    ],
    workgroups: [Math.ceil(l.cols / 64), l.chunks],
  });
}

/**
 * Column sums of x viewed as (rows, cols): out[c] = alpha·Σ_r x[r, c] (+ out[c] if accumulate).
 * For a bias gradient pass dY of shape (..., N): the result has N values.
 */
export function sumRows(x: Tensor, opts: SumRowsOptions = {}): Tensor {
  const op = opts.op ?? 'sum_rows';
  const cols = opts.cols ?? x.cols;
  const rows = opts.rows ?? (cols > 0 ? Math.floor(x.size / cols) : 0);
  const rowStride = opts.rowStride ?? cols;
  const offset = opts.offset ?? 0;
  if (rows > 0 && cols > 0 && offset + (rows - 1) * rowStride + cols > x.size) {
    throw new Error(`${op}: ${rows} rows of ${cols} values at stride ${rowStride} from ${offset} overrun x ${shapeText(x.shape)}`);
  }
  if (opts.accumulate && !opts.out) throw new Error(`${op}: accumulate needs the tensor to add into as out`);
  let out = opts.out;
  if (out) {
    if (out.size !== cols) throw new Error(`${op}: out has shape ${shapeText(out.shape)}, needs ${cols} values`);
  } else {
    out = Tensor.empty(x.ctx, [cols], op);
  }
  const alpha = opts.alpha ?? 1;
  const beta = opts.accumulate ? 1 : 0;
  if (cols === 0) return out;
  const { chunks, rowsPerChunk } = rowChunks(rows);
  const ctx = x.ctx;
  if (chunks === 1) {
    launchColumnSum(ctx, { op, x: x.buffer, out: out.buffer, rows, cols, rowStride, offset, rowsPerChunk, chunks, alpha, beta });
    return out;
  }
  const partial = ctx.buffer(chunks * cols * 4, `${op}-partials`);
  launchColumnSum(ctx, { op, x: x.buffer, out: partial, rows, cols, rowStride, offset, rowsPerChunk, chunks, alpha: 1, beta: 0 });
  launchColumnSum(ctx, {
    op,
    x: partial,
    out: out.buffer,
    rows: chunks,
    cols,
    rowStride: cols,
    offset: 0,
    rowsPerChunk: chunks,
    chunks: 1,
    alpha,
    beta,
  });
  ctx.release(partial);
  return out;
}
