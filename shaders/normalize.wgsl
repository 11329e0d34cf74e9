// Row-wise L2 normalisation, y = x / ‖x‖ over the last dimension, for CLIP's image and text
// embeddings before the cosine-similarity logits. One invocation per row: rows are a batch of
// embeddings (a few to a few hundred) of projection_dim values (512–1024), so a row loop is short.
//
// BACKWARD false: Y = X·r, R = r = 1/‖x‖ per row (saved for the backward).
// BACKWARD true:  DX = r·(DY − Y·⟨Y, DY⟩), the gradient of x ↦ x/‖x‖ (X binds the saved Y, R the saved r).

struct Params { rows: u32, cols: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read_write> R: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  let row = (wg.y * nw.x + wg.x) * 64u + lid.x;
  if (row >= P.rows) { return; }
  let base = row * P.cols;
#if ${BACKWARD}
  var d = 0.0;
  for (var j = 0u; j < P.cols; j = j + 1u) { d = d + X[base + j] * DY[base + j]; }
  let r = R[row];
  for (var j = 0u; j < P.cols; j = j + 1u) { Y[base + j] = r * (DY[base + j] - X[base + j] * d); }
#else
  var s = 0.0;
  for (var j = 0u; j < P.cols; j = j + 1u) { s = s + X[base + j] * X[base + j]; }
  // A zero row stays zero instead of becoming NaN (torch would give NaN; no real embedding is 0).
  let r = inverseSqrt(max(s, 1e-30));
  R[row] = r;
  for (var j = 0u; j < P.cols; j = j + 1u) { Y[base + j] = X[base + j] * r; }
#endif
}
