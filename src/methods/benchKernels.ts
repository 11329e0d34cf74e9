/**
 * Small element-wise and reduction kernels for the composed baselines of the methods benchmark:
 * the textbook chain rule from a dense dΔW to the diagonal scalings of VeRA and RandLoRA needs
 * Hadamard products with broadcast vectors, which the engine has no general op for. They live here,
 * not in shaders/, because only the benchmark's reference computation uses them. Each is plain
 * and obvious rather than fast; they are a small share of the work next to the dense GEMMs.
 */
import type { GpuContext } from '../gpu/context';
import { gridFold } from '../engine/ops/kernel';
import { Tensor } from '../engine/tensor';

const grid = gridFold;

const SCALE_WGSL = /* wgsl */ `
struct P { rows: u32, cols: u32, use_u: u32, use_v: u32, gx: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * p.gx + wg.x) * 256u + li;
  if (i >= p.rows * p.cols) { return; }
  var val = x[i];
  if (p.use_u != 0u) { val = val * u[i / p.cols]; }
  if (p.use_v != 0u) { val = val * v[i % p.cols]; }
  out[i] = val;
}`;

/** out[i, j] = X[i, j]·u[i]·v[j] (u, v optional): diag(u)·X·diag(v). */
export function scaleRowsCols(X: Tensor, u: Tensor | undefined, v: Tensor | undefined): Tensor {
  const ctx = X.ctx;
  const rows = X.rows;
  const cols = X.cols;
  const out = Tensor.empty(ctx, [rows, cols], 'bench_scaled');
  const [gx, gy] = grid(Math.ceil((rows * cols) / 256));
  ctx.launch({
    op: 'bench_scale_rows_cols',
    shapes: { X: X.shape },
    code: SCALE_WGSL,
    uniforms: new Uint32Array([rows, cols, u ? 1 : 0, v ? 1 : 0, gx, 0, 0, 0]),
    bindings: [
      { buffer: X.buffer, access: 'read' },
      { buffer: (u ?? X).buffer, access: 'read' },
      { buffer: (v ?? X).buffer, access: 'read' },
      { buffer: out.buffer, access: 'write' },
    ],
    workgroups: [gx, gy],
  });
  return out;
}

const DOT_ROWS_WGSL = /* wgsl */ `
struct P { rows: u32, cols: u32, use_v: u32, gx: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
var<workgroup> part: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = wg.y * p.gx + wg.x;
  var s = 0.0;
  if (row < p.rows) {
    for (var j = li; j < p.cols; j = j + 64u) {
      var t = x[row * p.cols + j] * y[row * p.cols + j];
      if (p.use_v != 0u) { t = t * v[j]; }
      s = s + t;
    }
  }
  part[li] = s;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w = w / 2u) {
    if (li < w) { part[li] = part[li] + part[li + w]; }
    workgroupBarrier();
  }
  if (li == 0u && row < p.rows) { out[row] = part[0]; }
}`;

/** out[i] = Σ_j X[i, j]·Y[i, j]·v[j] (v optional), one workgroup per row. */
export function dotRows(X: Tensor, Y: Tensor, v: Tensor | undefined): Tensor {
  const ctx = X.ctx;
  const rows = X.rows;
  const cols = X.cols;
  if (Y.size !== X.size) throw new Error(`dotRows: X [${X.shape.join(',')}] and Y [${Y.shape.join(',')}] differ in size`);
  const out = Tensor.empty(ctx, [rows], 'bench_dot_rows');
  const [gx, gy] = grid(rows);
  ctx.launch({
    op: 'bench_dot_rows',
    shapes: { X: X.shape, Y: Y.shape },
    code: DOT_ROWS_WGSL,
    uniforms: new Uint32Array([rows, cols, v ? 1 : 0, gx]),
    bindings: [
      { buffer: X.buffer, access: 'read' },
      { buffer: Y.buffer, access: 'read' },
      { buffer: (v ?? X).buffer, access: 'read' },
      { buffer: out.buffer, access: 'write' },
    ],
    workgroups: [gx, gy],
  });
  return out;
}

const DOT_COLS_WGSL = /* wgsl */ `
struct P { rows: u32, cols: u32, use_u: u32, gx: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> u: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = (wg.y * p.gx + wg.x) * 64u + li;
  if (c >= p.cols) { return; }
  var s = 0.0;
  for (var i = 0u; i < p.rows; i = i + 1u) {
    var t = x[i * p.cols + c] * y[i * p.cols + c];
    if (p.use_u != 0u) { t = t * u[i]; }
    s = s + t;
  }
  out[c] = s;
}`;

/** out[j] = Σ_i X[i, j]·Y[i, j]·u[i] (u optional), one thread per column. */
export function dotCols(X: Tensor, Y: Tensor, u: Tensor | undefined): Tensor {
  const ctx = X.ctx;
  const rows = X.rows;
  const cols = X.cols;
  if (Y.size !== X.size) throw new Error(`dotCols: X [${X.shape.join(',')}] and Y [${Y.shape.join(',')}] differ in size`);
  const out = Tensor.empty(ctx, [cols], 'bench_dot_cols');
  const [gx, gy] = grid(Math.ceil(cols / 64));
  ctx.launch({
    op: 'bench_dot_cols',
    shapes: { X: X.shape, Y: Y.shape },
    code: DOT_COLS_WGSL,
    uniforms: new Uint32Array([rows, cols, u ? 1 : 0, gx]),
    bindings: [
      { buffer: X.buffer, access: 'read' },
      { buffer: Y.buffer, access: 'read' },
      { buffer: (u ?? X).buffer, access: 'read' },
      { buffer: out.buffer, access: 'write' },
    ],
    workgroups: [gx, gy],
  });
  return out;
}

/**
 * RandLoRA's S and its chain rule, with j = k·nb + n indexing S's rows (r·nb × m):
 *   S[j, c] = λ[k, n]·Â[k, c]·γ[n, c],
 *   dλ[k, n] = Σ_c dS[j, c]·Â[k, c]·γ[n, c],   dγ[n, c] = Σ_k dS[j, c]·λ[k, n]·Â[k, c].
 * Â[k, c] is read as a[k·a_stride + c] (RandLoRA's A is (r, 1, minDim)).
 */
const RANDLORA_WGSL = /* wgsl */ `
struct P { r: u32, nb: u32, m: u32, a_stride: u32, gx: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> lambda: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> ds: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
var<workgroup> part: array<f32, 64>;

@compute @workgroup_size(256)
fn materialise_s(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * p.gx + wg.x) * 256u + li;
  if (i >= p.r * p.nb * p.m) { return; }
  let j = i / p.m;
  let c = i % p.m;
  let k = j / p.nb;
  let n = j % p.nb;
  out[i] = lambda[j] * a[k * p.a_stride + c] * gamma[n * p.m + c];
}

@compute @workgroup_size(64)
fn grad_lambda(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let j = wg.y * p.gx + wg.x;
  let k = j / p.nb;
  let n = j % p.nb;
  var s = 0.0;
  if (j < p.r * p.nb) {
    for (var c = li; c < p.m; c = c + 64u) {
      s = s + ds[j * p.m + c] * a[k * p.a_stride + c] * gamma[n * p.m + c];
    }
  }
  part[li] = s;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w = w / 2u) {
    if (li < w) { part[li] = part[li] + part[li + w]; }
    workgroupBarrier();
  }
  if (li == 0u && j < p.r * p.nb) { out[j] = part[0]; }
}

@compute @workgroup_size(256)
fn grad_gamma(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * p.gx + wg.x) * 256u + li;
  if (i >= p.nb * p.m) { return; }
  let n = i / p.m;
  let c = i % p.m;
  var s = 0.0;
  for (var k = 0u; k < p.r; k = k + 1u) {
    let j = k * p.nb + n;
    s = s + ds[j * p.m + c] * lambda[j] * a[k * p.a_stride + c];
  }
  out[i] = s;
}`;

export interface RandLoraDims {
  r: number;
  nb: number;
  m: number;
  aStride: number;
}

function randloraLaunch(
  ctx: GpuContext,
  entry: 'materialise_s' | 'grad_lambda' | 'grad_gamma',
  d: RandLoraDims,
  t: { lambda: Tensor; a: Tensor; gamma: Tensor; dS?: Tensor },
  out: Tensor,
  groups: number,
): void {
  const [gx, gy] = grid(groups);
  ctx.launch({
    op: `bench_randlora_${entry}`,
    shapes: { r: d.r, nb: d.nb, m: d.m },
    code: RANDLORA_WGSL,
    entryPoint: entry,
    uniforms: new Uint32Array([d.r, d.nb, d.m, d.aStride, gx, 0, 0, 0]),
    bindings: [
      { buffer: t.lambda.buffer, access: 'read' },
      { buffer: t.a.buffer, access: 'read' },
      { buffer: t.gamma.buffer, access: 'read' },
      { buffer: (t.dS ?? t.lambda).buffer, access: 'read' },
      { buffer: out.buffer, access: 'write' },
    ],
    workgroups: [gx, gy],
  });
}

export function randloraMaterialiseS(d: RandLoraDims, lambda: Tensor, a: Tensor, gamma: Tensor, out: Tensor): Tensor {
  randloraLaunch(lambda.ctx, 'materialise_s', d, { lambda, a, gamma }, out, Math.ceil((d.r * d.nb * d.m) / 256));
  return out;
}

export function randloraParamGrads(d: RandLoraDims, lambda: Tensor, a: Tensor, gamma: Tensor, dS: Tensor): { dLambda: Tensor; dGamma: Tensor } {
  const ctx = lambda.ctx;
  const dLambda = Tensor.empty(ctx, [d.r, d.nb], 'bench_randlora_dlambda');
  const dGamma = Tensor.empty(ctx, [d.nb, d.m], 'bench_randlora_dgamma');
  randloraLaunch(ctx, 'grad_lambda', d, { lambda, a, gamma, dS }, dLambda, d.r * d.nb);
  randloraLaunch(ctx, 'grad_gamma', d, { lambda, a, gamma, dS }, dGamma, Math.ceil((d.nb * d.m) / 256));
  return { dLambda, dGamma };
}
