// Softmax cross-entropy with optional label smoothing over logits (B, C), in one launch of one
// 256-wide workgroup that walks the rows: per-example loss, argmax prediction, the gradient
// dlogits, and batch statistics, so a training step needs no readback. Labels are f32 holding
// class indices; a label outside [0, C) (HF's ignore index -100) contributes no loss, no
// gradient and no count, and the mean is over the counted examples, as torch's
// CrossEntropyLoss(reduction='mean', label_smoothing=ε) does.
//
//   loss_b   = (1 − ε)·(lse − x_y) + (ε / C)·Σ_j (lse − x_j)
//   dlogit   = gradScale / count · (softmax(x) − ((1 − ε)·onehot(y) + ε / C))
//   Stats    = [Σ loss, Σ correct, count, mean loss, accuracy, 0, 0, 0], added to when
//              flags & 2 (accumulate over micro-batches / steps), mean and accuracy recomputed.
// flags: 1 = write dlogits, 2 = accumulate stats, 4 = no labels (predictions only).
// SUBGROUPS (devices with the `subgroups` feature): the workgroup sums and the argmax reduce
// within each subgroup first (subgroupAdd / subgroupMax / subgroupMin), then one workgroup-memory
// pass across subgroups, instead of an eight-level tree.

#if ${SUBGROUPS}
enable subgroups;
#endif

struct Params { B: u32, C: u32, flags: u32, pad0: u32, smoothing: f32, gradScale: f32, pad1: f32, pad2: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Logits: array<f32>;
@group(0) @binding(2) var<storage, read> Labels: array<f32>;
@group(0) @binding(3) var<storage, read_write> DLogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> Losses: array<f32>;
@group(0) @binding(5) var<storage, read_write> Preds: array<f32>;
@group(0) @binding(6) var<storage, read_write> Stats: array<f32>;

const WG: u32 = 256u;
var<workgroup> red_v: array<vec2<f32>, 256>;
var<workgroup> red_i: array<u32, 256>;

// The label of row b as a class index, or -1 when it is ignored.
fn label_of(b: u32) -> i32 {
  if ((P.flags & 4u) != 0u) { return -1; }
  let l = Labels[b];
  if (l >= 0.0 && l < f32(P.C) && l == floor(l)) { return i32(l); }
  return -1;
}

#if ${SUBGROUPS}
var<workgroup> leaders: atomic<u32>;
var<workgroup> stride_wg: u32;

// The subgroups' elected invocations (the lowest subgroup_invocation_id, the same at every call
// in uniform control flow) leave partial results at their own indices. This is the largest power
// of two dividing all of those indices (from their OR), so the final passes read only slots that
// can hold one: every 4th on SwiftShader (subgroup size 4), every 32nd on a 32-wide GPU. An
// unusual layout of invocations into subgroups only makes it smaller, never wrong.
fn slot_stride(lid: u32) -> u32 {
  if (subgroupElect()) { atomicOr(&leaders, lid); }
  workgroupBarrier();
  if (lid == 0u) { stride_wg = 1u << countTrailingZeros(atomicLoad(&leaders) | WG); }
  return workgroupUniformLoad(&stride_wg);
}

// Each subgroup reduces its values; its elected invocation leaves the result at its own index and
// every other slot holds the identity; then every invocation folds the slots in index order.
// One barrier pair instead of nine, with no assumption about the subgroup size (4 on SwiftShader,
// 32/64 on GPUs) or which invocations share a subgroup; the final order is fixed.
fn sum2(v: vec2<f32>, lid: u32, stride: u32) -> vec2<f32> {
  let part = subgroupAdd(v);
  red_v[lid] = select(vec2<f32>(0.0), part, subgroupElect());
  workgroupBarrier();
  var r = vec2<f32>(0.0);
  for (var k = 0u; k < WG; k = k + stride) { r = r + red_v[k]; }
  workgroupBarrier();
  return r;
}

// (max, index of the first maximum) over the workgroup: the subgroup's maximum, the smallest
// index holding it, then the same rule across subgroups (ties to the smaller index, as the tree).
fn argmax2(m: f32, i: u32, lid: u32, stride: u32) -> vec2<u32> {
  let sm = subgroupMax(m);
  let si = subgroupMin(select(0xffffffffu, i, m == sm));
  let lead = subgroupElect();
  red_v[lid] = vec2<f32>(select(-3.4028234663852886e38, sm, lead), 0.0);
  red_i[lid] = select(0xffffffffu, si, lead);
  workgroupBarrier();
  var bm = -3.4028234663852886e38;
  var bi = 0xffffffffu;
  for (var k = 0u; k < WG; k = k + stride) {
    let om = red_v[k].x;
    let oi = red_i[k];
    if (om > bm || (om == bm && oi < bi)) {
      bm = om;
      bi = oi;
    }
  }
  workgroupBarrier();
  return vec2<u32>(bitcast<u32>(bm), bi);
}
#else
fn slot_stride(lid: u32) -> u32 { return 1u; }

fn sum2(v: vec2<f32>, lid: u32, stride: u32) -> vec2<f32> {
  red_v[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red_v[lid] = red_v[lid] + red_v[lid + s]; }
    workgroupBarrier();
  }
  let r = red_v[0];
  workgroupBarrier();
  return r;
}

// (max, index of the first maximum) over the workgroup.
fn argmax2(m: f32, i: u32, lid: u32, stride: u32) -> vec2<u32> {
  red_v[lid] = vec2<f32>(m, 0.0);
  red_i[lid] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let om = red_v[lid + s].x;
      let oi = red_i[lid + s];
      if (om > red_v[lid].x || (om == red_v[lid].x && oi < red_i[lid])) {
        red_v[lid] = vec2<f32>(om, 0.0);
        red_i[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  let r = vec2<u32>(bitcast<u32>(red_v[0].x), red_i[0]);
  workgroupBarrier();
  return r;
}

#endif

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let stride = slot_stride(lid);
  let C = P.C;
  var cnt = 0.0;
  for (var b = lid; b < P.B; b = b + WG) {
    if (label_of(b) >= 0) { cnt = cnt + 1.0; }
  }
  let count = sum2(vec2<f32>(cnt, 0.0), lid, stride).x;
  var inv_count = 0.0;
  if (count > 0.0) { inv_count = P.gradScale / count; }
  let eps = P.smoothing;
  let off = eps / f32(C);
  var loss_sum = 0.0;
  var correct = 0.0;
  for (var b = 0u; b < P.B; b = b + 1u) {
    let base = b * C;
    var m = -3.4028234663852886e38;
    var arg = 0xffffffffu;
    for (var j = lid; j < C; j = j + WG) {
      let v = Logits[base + j];
      if (v > m) { m = v; arg = j; }
    }
    let best = argmax2(m, arg, lid, stride);
    let mx = bitcast<f32>(best.x);
    var acc = vec2<f32>(0.0);
    for (var j = lid; j < C; j = j + WG) {
      let v = Logits[base + j];
      acc = acc + vec2<f32>(exp(v - mx), mx - v);
    }
    let s = sum2(acc, lid, stride);
    let log_z = log(s.x);          // lse − max
    let lse = mx + log_z;
    let y = label_of(b);
    if ((P.flags & 1u) != 0u) {
      for (var j = lid; j < C; j = j + WG) {
        var g = 0.0;
        if (y >= 0) {
          var tgt = off;
          if (i32(j) == y) { tgt = tgt + 1.0 - eps; }
          g = inv_count * (exp(Logits[base + j] - lse) - tgt);
        }
        DLogits[base + j] = g;
      }
    }
    if (lid == 0u) {
      var loss = 0.0;
      if (y >= 0) {
        // Σ_j (lse − x_j) = C·(lse − max) + Σ_j (max − x_j): every term ≥ 0, no cancellation.
        let smoothed = f32(C) * log_z + s.y;
        loss = (1.0 - eps) * (lse - Logits[base + u32(y)]) + off * smoothed;
        if (u32(y) == best.y) { correct = correct + 1.0; }
      }
      Losses[b] = loss;
      Preds[b] = f32(best.y);
      loss_sum = loss_sum + loss;
    }
  }
  if (lid == 0u) {
    var total = vec3<f32>(loss_sum, correct, count);
    if ((P.flags & 2u) != 0u) { total = total + vec3<f32>(Stats[0], Stats[1], Stats[2]); }
    Stats[0] = total.x;
    Stats[1] = total.y;
    Stats[2] = total.z;
    Stats[3] = select(0.0, total.x / total.z, total.z > 0.0);
    Stats[4] = select(0.0, total.y / total.z, total.z > 0.0);
    Stats[5] = 0.0;
    Stats[6] = 0.0;
    Stats[7] = 0.0;
  }
}
