/**
 * Layer normalisation over the last dimension with weight and bias (torch.nn.LayerNorm), forward
 * and backward. eps comes from the model config: `layer_norm_eps`, 1e-12 for HF ViT and 1e-5 for
 * CLIP. Kernels: shaders/layernorm.wgsl (three variants) plus reduce.wgsl for tall parameter
 * gradients.
 */
import layernormWgsl from '../../../shaders/layernorm.wgsl';
import type { GpuContext } from '../../gpu/context';
import { Tensor } from '../tensor';
import { grid1D, kernelCode, outTensor, placeholder, sameSize, shapeText, uniforms } from './kernel';
import { launchColumnSum, rowChunks } from './reduce';

export interface LayerNormOptions {
  /** Preallocated outputs: y like x, mean and rstd with one value per row. */
  out?: Tensor;
  mean?: Tensor;
  rstd?: Tensor;
}

export interface LayerNormResult {
  y: Tensor;
  /** Per-row mean and 1/√(var + eps), shape (rows): keep them (and x) for the backward. */
  mean: Tensor;
  rstd: Tensor;
}

/** Rows up to this many values are reduced by one invocation each, so never through subgroups. */
export const LAYERNORM_ONE_LANE_COLS = 256;

/** Short rows are reduced by one invocation each, 64 rows to a workgroup; long rows by a 64-lane workgroup. */
function oneLane(cols: number): boolean {
  return cols <= LAYERNORM_ONE_LANE_COLS;
}

/** Subgroup row sums where the context uses them; one-lane rows have no cross-invocation sum to speed up. */
function subgroups(ctx: GpuContext, cols: number): boolean {
  return ctx.subgroupReductions && !oneLane(cols);
}
export { subgroups as layerNormUsesSubgroups };

function rowGrid(rows: number, cols: number): [number, number] {
  return grid1D(oneLane(cols) ? Math.ceil(rows / 64) : rows, 1);
}

function rowsOf(x: Tensor): { rows: number; cols: number } {
  const cols = x.cols;
  return { rows: cols > 0 ? x.size / cols : 0, cols };
}

/** y = (x − mean)/√(var + eps)·weight + bias over the last dimension of x (…, D). */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number, opts: LayerNormOptions = {}): LayerNormResult {
  const op = 'layernorm';
  const { rows, cols } = rowsOf(x);
  sameSize(op, 'weight', weight, cols, `${cols} values for x ${shapeText(x.shape)}`);
  sameSize(op, 'bias', bias, cols, `${cols} values for x ${shapeText(x.shape)}`);
  if (!(eps > 0)) throw new Error(`${op}: eps must be positive (layer_norm_eps in config.json), got ${eps}`);
  const ctx = x.ctx;
  const y = outTensor(ctx, op, x.shape, opts.out);
  const mean = outTensor(ctx, op, [rows], opts.mean, 'layernorm-mean');
  const rstd = outTensor(ctx, op, [rows], opts.rstd, 'layernorm-rstd');
  if (rows === 0) return { y, mean, rstd };
  const { buffer, u, f } = uniforms(8);
  u.set([rows, cols]);
  f[4] = eps;
  ctx.launch({
    op,
    shapes: { x: x.shape },
    code: kernelCode(layernormWgsl, { FORWARD: true, BACKWARD_INPUT: false, BACKWARD_PARAMS: false, ONE_LANE: oneLane(cols), SUBGROUPS: subgroups(ctx, cols) }, 'layernorm.wgsl'),
    uniforms: buffer,
    bindings: [
      { buffer: x.buffer, access: 'read' },
      { buffer: weight.buffer, access: 'read' },
      { buffer: bias.buffer, access: 'read' },
      { buffer: y.buffer, access: 'write' },
      { buffer: mean.buffer, access: 'write' },
      { buffer: rstd.buffer, access: 'write' },
    ],
    workgroups: rowGrid(rows, cols),
  });
  return { y, mean, rstd };
}

export interface LayerNormBackwardOptions {
  /** Compute dx (default true; false when nothing below needs a gradient). */
  inputGrad?: boolean;
  /** Write dx here; with `accumulateInput` add to it instead (the residual stream's gradient). */
  dx?: Tensor;
  accumulateInput?: boolean;
  /** Compute dweight / dbias (default false: a frozen layer norm). Passing the tensor implies true. */
  weightGrad?: boolean;
  biasGrad?: boolean;
  dweight?: Tensor;
  dbias?: Tensor;
  /** Add into dweight / dbias instead of overwriting them (gradient accumulation). */
  accumulateParams?: boolean;
}

export interface LayerNormGrads {
  dx?: Tensor;
  dweight?: Tensor;
  dbias?: Tensor;
}

/**
 * Gradients of layerNorm given dy, the forward's input x, its weight and the saved mean / rstd.
 * dx always flows (frozen norms still pass gradients to the adapters below them); dweight and
 * dbias only when asked for.
 */
export function layerNormBackward(
  dy: Tensor,
  x: Tensor,
  weight: Tensor,
  saved: Pick<LayerNormResult, 'mean' | 'rstd'>,
  opts: LayerNormBackwardOptions = {},
): LayerNormGrads {
  const op = 'layernorm_backward';
  const { rows, cols } = rowsOf(x);
  sameSize(op, 'dy', dy, x.size, `the shape of x ${shapeText(x.shape)}`);
  sameSize(op, 'weight', weight, cols, `${cols} values`);
  sameSize(op, 'mean', saved.mean, rows, `${rows} values (one per row)`);
  sameSize(op, 'rstd', saved.rstd, rows, `${rows} values (one per row)`);
  const ctx = x.ctx;
  const grads: LayerNormGrads = {};

  if (opts.inputGrad ?? true) {
    if (opts.accumulateInput && !opts.dx) throw new Error(`${op}: accumulateInput needs the gradient to add into as dx`);
    const dx = outTensor(ctx, op, x.shape, opts.dx, 'layernorm-dx');
    grads.dx = dx;
    if (rows > 0) {
      const { buffer, u } = uniforms(4);
      u.set([rows, cols, opts.accumulateInput ? 1 : 0]);
      ctx.launch({
        op: `${op}_input`,
        shapes: { x: x.shape },
        code: kernelCode(layernormWgsl, { FORWARD: false, BACKWARD_INPUT: true, BACKWARD_PARAMS: false, ONE_LANE: oneLane(cols), SUBGROUPS: subgroups(ctx, cols) }, 'layernorm.wgsl'),
        uniforms: buffer,
        bindings: [
          { buffer: x.buffer, access: 'read' },
          { buffer: weight.buffer, access: 'read' },
          { buffer: saved.mean.buffer, access: 'read' },
          { buffer: saved.rstd.buffer, access: 'read' },
          { buffer: dy.buffer, access: 'read' },
          { buffer: dx.buffer, access: 'write' },
        ],
        workgroups: rowGrid(rows, cols),
      });
    }
  }

  const wantW = opts.weightGrad ?? !!opts.dweight;
  const wantB = opts.biasGrad ?? (opts.dbias ? true : wantW);
  if (!wantW && !wantB) return grads;
  const accumulate = !!opts.accumulateParams;
  if (accumulate && ((wantW && !opts.dweight) || (wantB && !opts.dbias))) {
    throw new Error(`${op}: accumulateParams needs the gradients to add into as dweight / dbias`);
  }
  const dweight = wantW ? outTensor(ctx, op, [cols], opts.dweight, 'layernorm-dweight') : undefined;
  const dbias = wantB ? outTensor(ctx, op, [cols], opts.dbias, 'layernorm-dbias') : undefined;
  grads.dweight = dweight;
  grads.dbias = dbias;
  if (cols === 0) return grads;
  const { chunks, rowsPerChunk } = rowChunks(rows);
  const code = kernelCode(layernormWgsl, { FORWARD: false, BACKWARD_INPUT: false, BACKWARD_PARAMS: true, ONE_LANE: false, SUBGROUPS: false }, 'layernorm.wgsl');
  const paramsLaunch = (dwBuf: GPUBuffer, dbBuf: GPUBuffer, beta: number) => {
    const { buffer, u, f } = uniforms(8);
    u.set([rows, cols, rowsPerChunk, (wantW ? 1 : 0) | (wantB ? 2 : 0)]);
    f[4] = beta;
    ctx.launch({
      op: `${op}_params`,
      shapes: { x: x.shape, chunks },
      code,
      uniforms: buffer,
      bindings: [
        { buffer: x.buffer, access: 'read' },
        { buffer: dy.buffer, access: 'read' },
        { buffer: saved.mean.buffer, access: 'read' },
        { buffer: saved.rstd.buffer, access: 'read' },
        { buffer: dwBuf, access: 'write' },
        { buffer: dbBuf, access: 'write' },
      ],
      workgroups: [Math.ceil(cols / 64), chunks],
    });
  };
  if (chunks === 1) {
    paramsLaunch(dweight?.buffer ?? placeholder(ctx, 'write', 0), dbias?.buffer ?? placeholder(ctx, 'write', 1), accumulate ? 1 : 0);
    return grads;
  }
  // Tall inputs: per-chunk partial sums, then one column-sum launch per wanted gradient.
  const partW = wantW ? ctx.buffer(chunks * cols * 4, 'layernorm-dweight-partials') : undefined;
  const partB = wantB ? ctx.buffer(chunks * cols * 4, 'layernorm-dbias-partials') : undefined;
  paramsLaunch(partW ?? placeholder(ctx, 'write', 0), partB ?? placeholder(ctx, 'write', 1), 0);
  for (const [part, out] of [
    [partW, dweight],
    [partB, dbias],
  ] as const) {
    if (!part || !out) continue;
    launchColumnSum(ctx, {
      op: `${op}_params_sum`,
      x: part,
      out: out.buffer,
      rows: chunks,
      cols,
      rowStride: cols,
      offset: 0,
      rowsPerChunk: chunks,
      chunks: 1,
      alpha: 1,
      beta: accumulate ? 1 : 0,
    });
    ctx.release(part);
  }
  return grads;
}
