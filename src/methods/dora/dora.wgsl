// DoRA kernels (PEFT's LoRA with use_dora=True, tuners/lora/dora.py). With W' = W0 + s·B·A, the
// per-row norm n[o] = ‖W'[o, :]‖ (a constant in backward, as PEFT detaches it) and g = m / n:
//   y = g ⊙ (x·W0ᵀ + s·x·Aᵀ·Bᵀ) + b.
// The layer's y arrives holding z = x·W0ᵀ + b + s·(x·Aᵀ)·Bᵀ (base GEMM plus the LoRA path), so:
//
// ROW_NORM:  n[o] = ‖Wp[o, :]‖ for Wp (rows × cols), one workgroup per row.
// SCALE_OUT: base = z − b (kept for the magnitude's gradient), y = g ⊙ base + b, per element.
// GRAD_OUT:  dYg = g ⊙ dY (reaches A, B and the LoRA part of dx) and dYc = (g − 1) ⊙ dY (the
//            base part of dx, added to the dY·W0 the layer already computed), per element.
// GRAD_M:    dm[o] = Σ_t dY[t, o]·base[t, o] / n[o], one workgroup per column.
// SCALE_ROWS: out[o, i] = g[o]·Wp[o, i] (the merged weight), per element.
// Element-wise modes take 256 items per workgroup, the grid folded as wg.y·nw.x + wg.x.

struct Params { rows: u32, cols: u32, has_bias: u32, pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, 64>;

fn flat(wg: vec3<u32>, nw: vec3<u32>, lid: u32, per: u32) -> u32 {
  return (wg.y * nw.x + wg.x) * per + lid;
}

#if ${ROW_NORM}
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = wg.y * nw.x + wg.x;
  var acc = 0.0;
  if (o < P.rows) {
    for (var i = lid; i < P.cols; i = i + WG) {
      let v = W[o * P.cols + i];
      acc = acc + v * v;
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] = partial[lid] + partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u && o < P.rows) { norm[o] = sqrt(partial[0]); }
}
#endif

#if ${SCALE_OUT}
// rows = N tokens, cols = O outputs.
@group(0) @binding(1) var<storage, read> mag: array<f32>;
@group(0) @binding(2) var<storage, read> norm: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> base: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wg, nw, lid, 256u);
  if (i >= P.rows * P.cols) { return; }
  let o = i % P.cols;
  var b = 0.0;
  if (P.has_bias != 0u) { b = bias[o]; }
  let v = y[i] - b;
  base[i] = v;
  y[i] = mag[o] / norm[o] * v + b;
}
#endif

#if ${GRAD_OUT}
@group(0) @binding(1) var<storage, read> mag: array<f32>;
@group(0) @binding(2) var<storage, read> norm: array<f32>;
@group(0) @binding(3) var<storage, read> dY: array<f32>;
@group(0) @binding(4) var<storage, read_write> dYg: array<f32>;
@group(0) @binding(5) var<storage, read_write> dYc: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wg, nw, lid, 256u);
  if (i >= P.rows * P.cols) { return; }
  let o = i % P.cols;
  let g = mag[o] / norm[o];
  let d = dY[i];
  dYg[i] = g * d;
  dYc[i] = (g - 1.0) * d;
}
#endif

#if ${GRAD_M}
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read> dY: array<f32>;
@group(0) @binding(3) var<storage, read> base: array<f32>;
@group(0) @binding(4) var<storage, read_write> dm: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = wg.y * nw.x + wg.x;
  var acc = 0.0;
  if (o < P.cols) {
    for (var t = lid; t < P.rows; t = t + WG) {
      acc = acc + dY[t * P.cols + o] * base[t * P.cols + o];
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] = partial[lid] + partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u && o < P.cols) { dm[o] = partial[0] / norm[o]; }
}
#endif

#if ${SCALE_ROWS}
// rows = O, cols = I.
@group(0) @binding(1) var<storage, read> mag: array<f32>;
@group(0) @binding(2) var<storage, read> norm: array<f32>;
@group(0) @binding(3) var<storage, read_write> W: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wg, nw, lid, 256u);
  if (i >= P.rows * P.cols) { return; }
  let o = i / P.cols;
  W[i] = mag[o] / norm[o] * W[i];
}
#endif
