// VeRA kernels. ΔW = diag(λ_b)·B_s·diag(λ_d)·A_s with A_s = vera_A[:, :I] and B_s = vera_B[:O, :]
// sliced out of bases shared by every layer. Three pieces, one selected per specialisation:
//
// OPERAND: writes a GEMM's B operand, a (rows, cols) tensor. Every VeRA product reads a slice of a
//   base, possibly transposed, times a diagonal on either side, so one kernel with strides and two
//   optional scale vectors makes them all:
//     opB[k, col] = base[k·stride_k + col·stride_col] · (sk[k] if has_sk) · (sc[col] if has_sc)
//   An unused scale vector is bound to the base itself (read-only aliasing is allowed). The
//   operands are small (r·I or r·O values) next to the GEMMs that read them (N·r·I), and a stored
//   operand lets the GEMM run with the device's tuned tiling (a generated one keeps the default).
//
// REDUCE: out[j] = Σ_i X[i·xs_i + j·xs_j] · Y[i·ys_i + j·ys_j] · (S[i] if scaled), one invocation
//   per output. Both λ gradients are such weighted dot products of rank-r quantities:
//   dλ_d[k] = Σ_t du[t,k]·h[t,k] and dλ_b[o] = Σ_k (dYᵀh)[o,k]·B_s[o,k]·λ_d[k].

#if ${OPERAND}
struct Params {
  rows: u32, cols: u32, stride_k: u32, stride_col: u32,
  has_sk: u32, has_sc: u32, groups_x: u32, pad: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> vera_base: array<f32>;
@group(0) @binding(2) var<storage, read> vera_sk: array<f32>;
@group(0) @binding(3) var<storage, read> vera_sc: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let idx = (wg.x + wg.y * P.groups_x) * 256u + lid;
  if (idx >= P.rows * P.cols) { return; }
  let k = idx / P.cols;
  let col = idx - k * P.cols;
  var v = vera_base[k * P.stride_k + col * P.stride_col];
  if (P.has_sk != 0u) { v = v * vera_sk[k]; }
  if (P.has_sc != 0u) { v = v * vera_sc[col]; }
  out[idx] = v;
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

// One invocation per output, summing in order: no workgroup barriers (they cost more than these
// short sums, above all on CPU-emulated GPUs) and a fixed order, so runs stay deterministic.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = (wg.x + wg.y * P.groups_x) * 64u + lid;
  if (j >= P.n_out) { return; }
  var acc = 0.0;
  for (var i = 0u; i < P.n_in; i = i + 1u) {
    var v = X[i * P.xs_i + j * P.xs_j] * Y[i * P.ys_i + j * P.ys_j];
    if (P.scaled != 0u) { v = v * S[i]; }
    acc = acc + v;
  }
  out[j] = acc;
}
#endif

#if ${GRADS}
// Both λ gradients of the dense path from E = (dYᵀ·x)·A_sᵀ (O, r), in one launch, one invocation
// per output, in the order REDUCE sums:
//   j < O:  dλ_b[j] = Σ_k E[j,k]·B[j,k]·λ_d[k]      j ≥ O:  dλ_d[k] = Σ_o E[o,k]·B[o,k]·λ_b[o]
struct Params { O: u32, r: u32, groups_x: u32, pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> E: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> lambda_b: array<f32>;
@group(0) @binding(4) var<storage, read> lambda_d: array<f32>;
@group(0) @binding(5) var<storage, read_write> d_lambda_b: array<f32>;
@group(0) @binding(6) var<storage, read_write> d_lambda_d: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = (wg.x + wg.y * P.groups_x) * 64u + lid;
  if (j < P.O) {
    var acc = 0.0;
    for (var k = 0u; k < P.r; k = k + 1u) {
      acc = acc + E[j * P.r + k] * B[j * P.r + k] * lambda_d[k];
    }
    d_lambda_b[j] = acc;
    return;
  }
  let k = j - P.O;
  if (k >= P.r) { return; }
  var acc = 0.0;
  for (var o = 0u; o < P.O; o = o + 1u) {
    acc = acc + E[o * P.r + k] * B[o * P.r + k] * lambda_b[o];
  }
  d_lambda_d[k] = acc;
}
#endif
