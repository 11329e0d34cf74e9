// Layer normalisation over the last dimension, y = (x − μ)·rstd·w + b with rstd = 1/√(σ² + eps),
// and its backward. Three kernels, chosen by flag:
//   FORWARD          one 64-wide workgroup per row (one invocation per row when rows are short): μ, then σ² from the centred values (two
//                    passes, so eps = 1e-12 and large means lose nothing to cancellation);
//                    saves μ and rstd per row for the backward.
//   BACKWARD_INPUT   one workgroup per row: with g = dy·w and x̂ = (x − μ)·rstd,
//                    dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), optionally added to dx (residual).
//   BACKWARD_PARAMS  column sums over a chunk of rows, as in reduce.wgsl: dw = Σ dy·x̂, db = Σ dy,
//                    written to (chunk, cols) partials or, with one chunk, into dw / db directly
//                    (Out = Σ + β·Out).
// SUBGROUPS (64-lane rows only, on devices with the `subgroups` feature): the row sums use
// subgroupAdd and one workgroup-memory pass across subgroups instead of a six-level tree.

#if ${SUBGROUPS}
enable subgroups;
#endif

#if ${FORWARD}
struct Params { rows: u32, cols: u32, pad0: u32, pad1: u32, eps: f32, pad2: f32, pad3: f32, pad4: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read> Bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read_write> Mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> Rstd: array<f32>;
#elif ${BACKWARD_INPUT}
struct Params { rows: u32, cols: u32, accumulate: u32, pad0: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read> Mean: array<f32>;
@group(0) @binding(4) var<storage, read> Rstd: array<f32>;
@group(0) @binding(5) var<storage, read> DY: array<f32>;
@group(0) @binding(6) var<storage, read_write> DX: array<f32>;
#else
struct Params { rows: u32, cols: u32, rowsPerChunk: u32, want: u32, beta: f32, pad0: f32, pad1: f32, pad2: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read> Mean: array<f32>;
@group(0) @binding(4) var<storage, read> Rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> DW: array<f32>;
@group(0) @binding(6) var<storage, read_write> DB: array<f32>;
#endif

#if ${BACKWARD_PARAMS}
var<workgroup> partW: array<f32, 256>;
var<workgroup> partB: array<f32, 256>;

@compute @workgroup_size(64, 4, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col = wg.x * 64u + lid.x;
  let chunk = wg.y;
  let r0 = chunk * P.rowsPerChunk;
  let r1 = min(P.rows, r0 + P.rowsPerChunk);
  var sw = 0.0;
  var sb = 0.0;
  if (col < P.cols) {
    for (var r = r0 + lid.y; r < r1; r = r + 4u) {
      let i = r * P.cols + col;
      let dy = DY[i];
      sw = sw + dy * (X[i] - Mean[r]) * Rstd[r];
      sb = sb + dy;
    }
  }
  let slot = lid.y * 64u + lid.x;
  partW[slot] = sw;
  partB[slot] = sb;
  workgroupBarrier();
  if (lid.y == 0u && col < P.cols) {
    let o = chunk * P.cols + col;
    if ((P.want & 1u) != 0u) {
      var v = (partW[lid.x] + partW[64u + lid.x]) + (partW[128u + lid.x] + partW[192u + lid.x]);
      if (P.beta != 0.0) { v = v + P.beta * DW[o]; }
      DW[o] = v;
    }
    if ((P.want & 2u) != 0u) {
      var v = (partB[lid.x] + partB[64u + lid.x]) + (partB[128u + lid.x] + partB[192u + lid.x]);
      if (P.beta != 0.0) { v = v + P.beta * DB[o]; }
      DB[o] = v;
    }
  }
}
#else
// Rows of up to 256 values get one invocation each (ONE_LANE): a 64-wide reduction per short row
// mostly waits at barriers, which software rasterisers make very slow. Longer rows get 64 lanes.
#if ${ONE_LANE}
const LANES: u32 = 1u;
fn row_sum(v: vec2<f32>, lane: u32, stride: u32) -> vec2<f32> { return v; }
fn slot_stride(lid: u32) -> u32 { return 1u; }
#elif ${SUBGROUPS}
const LANES: u32 = 64u;
var<workgroup> red: array<vec2<f32>, 64>;
var<workgroup> leaders: atomic<u32>;
var<workgroup> stride_wg: u32;

// The subgroups' elected invocations (one each: the lowest subgroup_invocation_id, the same at
// every call in uniform control flow) leave their partial results at their own indices. This
// finds the largest power of two dividing all those indices (from the OR of them), so the final
// pass reads only slots that can hold one: every 4th on SwiftShader (subgroup size 4), every
// 32nd on a 32-wide GPU, slot 0 alone when a subgroup spans the workgroup. Any layout of
// invocations into subgroups stays correct: an odd one only makes the stride smaller.
fn slot_stride(lid: u32) -> u32 {
  if (subgroupElect()) { atomicOr(&leaders, lid); }
  workgroupBarrier();
  if (lid == 0u) { stride_wg = 1u << countTrailingZeros(atomicLoad(&leaders) | LANES); }
  return workgroupUniformLoad(&stride_wg);
}

// Sums a pair over the 64 invocations with one barrier pair instead of seven: subgroupAdd within
// each subgroup, the elected invocation's sum at its own slot (the others hold 0), then every
// invocation adds the slots in index order, so the order of the final sum is fixed. No subgroup
// size is assumed (4 on SwiftShader, 32 or 64 on GPUs, or wider than the workgroup).
fn row_sum(v: vec2<f32>, lid: u32, stride: u32) -> vec2<f32> {
  let part = subgroupAdd(v);
  red[lid] = select(vec2<f32>(0.0), part, subgroupElect());
  workgroupBarrier();
  var r = vec2<f32>(0.0);
  for (var k = 0u; k < 64u; k = k + stride) { r = r + red[k]; }
  workgroupBarrier();
  return r;
}
#else
const LANES: u32 = 64u;
var<workgroup> red: array<vec2<f32>, 64>;

fn slot_stride(lid: u32) -> u32 { return 1u; }

// Sums a pair over the 64 invocations of the workgroup; every invocation gets the result.
fn row_sum(v: vec2<f32>, lid: u32, stride: u32) -> vec2<f32> {
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
  let inv_n = 1.0 / f32(n);
#if ${FORWARD}
  var s = 0.0;
  for (var j = lid; j < n; j = j + LANES) { s = s + X[base + j]; }
  let mean = row_sum(vec2<f32>(s, 0.0), lid, stride).x * inv_n;
  var q = 0.0;
  for (var j = lid; j < n; j = j + LANES) {
    let d = X[base + j] - mean;
    q = q + d * d;
  }
  let variance = row_sum(vec2<f32>(q, 0.0), lid, stride).x * inv_n;
  let rstd = 1.0 / sqrt(variance + P.eps);
  for (var j = lid; j < n; j = j + LANES) {
    Y[base + j] = (X[base + j] - mean) * rstd * W[j] + Bias[j];
  }
  if (lid == 0u) {
    Mean[row] = mean;
    Rstd[row] = rstd;
  }
#else
  let mean = Mean[row];
  let rstd = Rstd[row];
  var acc = vec2<f32>(0.0);
  for (var j = lid; j < n; j = j + LANES) {
    let g = DY[base + j] * W[j];
    let xhat = (X[base + j] - mean) * rstd;
    acc = acc + vec2<f32>(g, g * xhat);
  }
  let c = row_sum(acc, lid, stride) * inv_n;
  for (var j = lid; j < n; j = j + LANES) {
    let g = DY[base + j] * W[j];
    let xhat = (X[base + j] - mean) * rstd;
    var dx = rstd * (g - c.x - xhat * c.y);
    if (P.accumulate != 0u) { dx = dx + DX[base + j]; }
    DX[base + j] = dx;
  }
#endif
}
#endif
