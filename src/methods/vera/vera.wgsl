// VeRA kernels. ΔW = diag(λ_b)·B_s·diag(λ_d)·A_s with A_s = vera_A[:, :I] and B_s = vera_B[:O, :]
// sliced out of bases shared by every layer. Three pieces, one selected per specialisation:
//
// OPERAND: a generated B operand for the shared GEMM (appended to matmul.wgsl). Every VeRA product
//   reads a slice of a base, possibly transposed, times a diagonal on either side, so one
//   generator with strides and two optional scale vectors covers them all and the GEMM compiles
//   once for every VeRA call; the slices and scalings are never materialised.
//     opB[k, col] = base[k·P.ext.x + col·P.ext.y] · (sk[k] if P.ext.z) · (sc[col] if P.ext.w)
//   An unused scale vector is bound to the base itself (read-only aliasing is allowed).
//
// REDUCE: out[j] = Σ_i X[i·xs_i + j·xs_j] · Y[i·ys_i + j·ys_j] · (S[i] if scaled), one workgroup
//   per output. Both λ gradients are such weighted dot products of rank-r quantities:
//   dλ_d[k] = Σ_t du[t,k]·h[t,k] and dλ_b[o] = Σ_k (dYᵀh)[o,k]·B_s[o,k]·λ_d[k].
//
// SCALE_ROWS: out[o·r + k] = base[o·r + k]·v[o] for o < O: diag(λ_b)·B_s, the left factor of the
//   merged update (the GEMM epilogue has no per-row scale, and this is only O·r values).

#if ${OPERAND}
@group(0) @binding(8) var<storage, read> vera_base: array<f32>;
@group(0) @binding(9) var<storage, read> vera_sk: array<f32>;
@group(0) @binding(10) var<storage, read> vera_sc: array<f32>;

fn custom_b(b: u32, k: u32, col: u32) -> f32 {
  var v = vera_base[k * P.ext.x + col * P.ext.y];
  if (P.ext.z != 0u) { v = v * vera_sk[k]; }
  if (P.ext.w != 0u) { v = v * vera_sc[col]; }
  return v;
}
#endif

#if ${REDUCE}
struct Params {
  n_out: u32, n_in: u32, scaled: u32, groups_x: u32,
  xs_i: u32, xs_j: u32, ys_i: u32, ys_j: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read> S: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = wg.x + wg.y * P.groups_x;
  var acc = 0.0;
  if (j < P.n_out) {
    for (var i = lid; i < P.n_in; i = i + WG) {
      var v = X[i * P.xs_i + j * P.xs_j] * Y[i * P.ys_i + j * P.ys_j];
      if (P.scaled != 0u) { v = v * S[i]; }
      acc = acc + v;
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] = partial[lid] + partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u && j < P.n_out) { out[j] = partial[0]; }
}
#endif

#if ${SCALE_ROWS}
struct Params { rows: u32, cols: u32, groups_x: u32, pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> base: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let idx = (wg.x + wg.y * P.groups_x) * 256u + lid;
  if (idx >= P.rows * P.cols) { return; }
  out[idx] = base[idx] * v[idx / P.cols];
}
#endif
