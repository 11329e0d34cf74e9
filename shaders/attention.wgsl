// The non-GEMM parts of multi-head self-attention; the products themselves run on matmul.wgsl.
//
// PERMUTE (SOFTMAX false): moves heads between the layout linear layers produce, (B, T, H, d)
// (head h is the contiguous chunk h·d … h·d + d − 1 of the hidden dimension, as in HF ViT and
// CLIP), and the layout batched GEMMs want, (B, H, T, d). P.merge = 0 splits heads out
// ((B,T,H,d) → (B,H,T,d)); P.merge = 1 merges them back. Dst is indexed linearly (coalesced writes).
//
// SOFTMAX: one 64-wide workgroup per row of a (rows, cols) matrix (one invocation per row when
// rows are short), in place on A.
//   P.backward = 0: A ← softmax(A) (max-subtracted). With P.causal = 1 (CLIP's text tower) the
//   rows are (…, T, T) score matrices and column j > query row (row mod T) is masked: its
//   probability is exactly 0, so the backward, which multiplies by Pm, needs no mask of its own.
//   P.backward = 1: A holds dP and becomes dS = Pm ⊙ (dP − Σ_j dP·Pm), Pm the saved softmax.
//   SUBGROUPS (64-lane rows only, devices with the `subgroups` feature): the row max and sums use
//   subgroupMax / subgroupAdd and one workgroup-memory pass across subgroups instead of a tree.

#if ${SUBGROUPS}
enable subgroups;
#endif

#if ${SOFTMAX}
struct Params { rows: u32, cols: u32, backward: u32, causal: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> A: array<f32>;
@group(0) @binding(2) var<storage, read> Pm: array<f32>;

// Rows of up to 256 values get one invocation each (ONE_LANE), 64 rows to a workgroup: attention
// rows are T wide, and a 64-lane reduction per short row mostly waits at barriers.
#if ${ONE_LANE}
const LANES: u32 = 1u;
fn row_max(v: f32, lane: u32, stride: u32) -> f32 { return v; }
fn row_sum(v: f32, lane: u32, stride: u32) -> f32 { return v; }
fn slot_stride(lid: u32) -> u32 { return 1u; }
#elif ${SUBGROUPS}
const LANES: u32 = 64u;
var<workgroup> red: array<f32, 64>;
var<workgroup> leaders: atomic<u32>;
var<workgroup> stride_wg: u32;
// As in layernorm.wgsl: the subgroups' elected invocations (the lowest subgroup_invocation_id,
// the same at every call in uniform control flow) leave partial results at their own indices;
// this is the largest power of two dividing all of those indices, so the final pass reads only
// slots that can hold one (every 4th on SwiftShader, every 32nd on a 32-wide GPU). An unusual
// layout of invocations into subgroups only makes it smaller.
fn slot_stride(lid: u32) -> u32 {
  if (subgroupElect()) { atomicOr(&leaders, lid); }
  workgroupBarrier();
  if (lid == 0u) { stride_wg = 1u << countTrailingZeros(atomicLoad(&leaders) | LANES); }
  return workgroupUniformLoad(&stride_wg);
}
// One barrier pair per reduction instead of seven: each subgroup reduces its values, its elected
// invocation's result goes to its own slot (the others hold the identity, −max f32 or 0), then
// every invocation folds the slots in index order (a fixed order). No subgroup size is assumed
// (4 on SwiftShader, 32/64 on GPUs, or wider than the workgroup).
fn row_max(v: f32, lid: u32, stride: u32) -> f32 {
  let part = subgroupMax(v);
  red[lid] = select(-3.4028234663852886e38, part, subgroupElect());
  workgroupBarrier();
  var r = -3.4028234663852886e38;
  for (var k = 0u; k < 64u; k = k + stride) { r = max(r, red[k]); }
  workgroupBarrier();
  return r;
}
fn row_sum(v: f32, lid: u32, stride: u32) -> f32 {
  let part = subgroupAdd(v);
  red[lid] = select(0.0, part, subgroupElect());
  workgroupBarrier();
  var r = 0.0;
  for (var k = 0u; k < 64u; k = k + stride) { r = r + red[k]; }
  workgroupBarrier();
  return r;
}
#else
const LANES: u32 = 64u;
var<workgroup> red: array<f32, 64>;
fn slot_stride(lid: u32) -> u32 { return 1u; }
fn row_max(v: f32, lid: u32, stride: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn row_sum(v: f32, lid: u32, stride: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
#endif
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  // Written out per variant: barriers need `row` to be visibly uniform in the 64-lane one.
#if ${ONE_LANE}
  let row = (wg.y * nw.x + wg.x) * 64u + lid3.x;
  let lid = 0u;
#else
  let row = wg.y * nw.x + wg.x;
  let lid = lid3.x;
#endif
  // Before the early return: the subgroup variant's setup needs the whole workgroup.
  let stride = slot_stride(lid3.x);
  if (row >= P.rows) { return; }
  let n = P.cols;
  let base = row * n;
  if (P.backward == 0u) {
    // Last visible column: every column, or the query's own position under a causal mask.
    var last = n - 1u;
    if (P.causal == 1u) { last = min(row % n, n - 1u); }
    var m = -3.4028234663852886e38;
    for (var j = lid; j <= last; j = j + LANES) { m = max(m, A[base + j]); }
    m = row_max(m, lid, stride);
    var s = 0.0;
    for (var j = lid; j <= last; j = j + LANES) { s = s + exp(A[base + j] - m); }
    let inv = 1.0 / row_sum(s, lid, stride);
    for (var j = lid; j < n; j = j + LANES) {
      if (j <= last) { A[base + j] = exp(A[base + j] - m) * inv; } else { A[base + j] = 0.0; }
    }
  } else {
    var s = 0.0;
    for (var j = lid; j < n; j = j + LANES) { s = s + A[base + j] * Pm[base + j]; }
    let c = row_sum(s, lid, stride);
    for (var j = lid; j < n; j = j + LANES) { A[base + j] = Pm[base + j] * (A[base + j] - c); }
  }
}
#else
struct Params { B: u32, T: u32, H: u32, d: u32, n: u32, merge: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Src: array<f32>;
@group(0) @binding(2) var<storage, read_write> Dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  let i = (wg.y * nw.x + wg.x) * 256u + lid.x;
  if (i >= P.n) { return; }
  let e = i % P.d;
  let r = i / P.d;
  var src: u32;
  if (P.merge == 0u) {
    // Dst (B, H, T, d): r = (b·H + h)·T + t; Src (B, T, H, d).
    let t = r % P.T;
    let bh = r / P.T;
    let h = bh % P.H;
    let b = bh / P.H;
    src = ((b * P.T + t) * P.H + h) * P.d + e;
  } else {
    // Dst (B, T, H, d): r = (b·T + t)·H + h; Src (B, H, T, d).
    let h = r % P.H;
    let bt = r / P.H;
    let t = bt % P.T;
    let b = bt / P.T;
    src = ((b * P.H + h) * P.T + t) * P.d + e;
  }
  Dst[i] = Src[src];
}
#endif
