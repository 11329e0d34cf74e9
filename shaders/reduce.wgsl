// Column sums of a row-major matrix: Out[chunk, col] = α·Σ_{r in chunk} X[offset + r·rowStride + col]
// + β·Out[chunk, col]. This is the bias gradient (column sums of dY) and the sum over the batch
// of position-embedding gradients. Long matrices are split into row chunks, one per
// workgroup row of the grid; the ops layer then sums the (chunks, cols) partials with a second
// launch of this same kernel, so one pipeline does both stages.
//
// A 64x4 workgroup covers 64 adjacent columns (coalesced reads); its 4 lanes per column take
// every 4th row of the chunk, and the 4 partial sums meet in workgroup memory.

struct Params {
  rows: u32, cols: u32, rowStride: u32, offset: u32,
  rowsPerChunk: u32, pad0: u32, pad1: u32, pad2: u32,
  alpha: f32, beta: f32, pad3: f32, pad4: f32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(64, 4, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col = wg.x * 64u + lid.x;
  let chunk = wg.y;
  let r0 = chunk * P.rowsPerChunk;
  let r1 = min(P.rows, r0 + P.rowsPerChunk);
  var s = 0.0;
  if (col < P.cols) {
    for (var r = r0 + lid.y; r < r1; r = r + 4u) {
      s = s + X[P.offset + r * P.rowStride + col];
    }
  }
  part[lid.y * 64u + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && col < P.cols) {
    let total = (part[lid.x] + part[64u + lid.x]) + (part[128u + lid.x] + part[192u + lid.x]);
    let o = chunk * P.cols + col;
    var v = P.alpha * total;
    if (P.beta != 0.0) { v = v + P.beta * Out[o]; }
    Out[o] = v;
  }
}
