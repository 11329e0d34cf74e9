// Optimizer kernels, chosen by flag:
//   NORM_PARTIAL  Σ x² over one gradient tensor, a strided loop per workgroup (≤ 32 of them),
//                 each workgroup writing its partial sum to Partials[slot + wg]. One launch per
//                 tensor; the partial slots of all tensors share one buffer.
//   NORM_ONE      NORM_PARTIAL and NORM_FINAL in one launch for one small gradient tensor (a flat
//                 buffer of adapter gradients): one workgroup's strided loop, then NORM_FINAL's epilogue.
//   NORM_FINAL    one workgroup sums all partials: Out = [‖g‖, clip scale, Σ g², skip, health…] with
//                 ‖g‖ = gradScale·√Σ and clip scale = min(1, maxNorm / (‖g‖ + 1e-6)) as in
//                 torch.nn.utils.clip_grad_norm_ (1 when maxNorm ≤ 0: no clipping). The scale
//                 stays on the GPU for the AdamW kernel to read.
//                 Divergence guard: a non-finite Σ g² (a NaN or Inf anywhere in any gradient, which
//                 is also what a non-finite loss produces) sets skip = 1, and AdamW then leaves the
//                 parameters and moments untouched, so no readback is needed to protect the weights.
//                 With `track` set, Out[4..6] persist across steps (the caller keeps Out): the
//                 current run of bad steps, the step at which it reached `patience` (0: never),
//                 and the count of bad steps. Once diverged, every later update is skipped too.
//   ADAMW         torch.optim.AdamW's update (decoupled weight decay, bias-corrected moments):
//                 g = G·gradScale·clip; p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g;
//                 v ← β2·v + (1 − β2)·g²; p ← p − (lr / (1 − β1ᵗ))·m / (√v / √(1 − β2ᵗ) + eps).
//                 lr and the bias corrections are uniforms, so schedules never recompile. 1 − β
//                 comes computed in float64 (as torch's Python scalars are): 1 − f32(0.999) is
//                 off by 1.3e-5 relative.
//   ADAMW_MULTI   the same update over many tensors in one launch: Param, G, M and V are flat
//                 buffers holding every tensor as a slice, and a table of MAX_SEGS segments in the
//                 uniform block gives each slice its start, end, whether it updates this step, and
//                 its own lr, weight decay and step size (so learning-rate and decay groups need no
//                 second launch). Each thread finds its segment by binary search over the starts;
//                 the per-element arithmetic is ADAMW's, expression for expression.

#if ${NORM_PARTIAL}
struct Params { n: u32, slot: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Partials: array<f32>;
#elif ${NORM_FINAL}
struct Params { count: u32, track: u32, step: u32, patience: u32, maxNorm: f32, gradScale: f32, pad3: f32, pad4: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
#elif ${NORM_ONE}
// NORM_FINAL's uniforms, with `count` the gradient's length.
struct Params { count: u32, track: u32, step: u32, patience: u32, maxNorm: f32, gradScale: f32, pad3: f32, pad4: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
#elif ${ADAMW_MULTI}
struct Segment { start: u32, end: u32, live: u32, pad: u32, lr: f32, weightDecay: f32, stepSize: f32, pad2: f32 }
struct Params {
  base: u32, n: u32, count: u32, useClip: u32,
  oneMinusBeta1: f32, oneMinusBeta2: f32, beta1: f32, beta2: f32,
  eps: f32, bc2sqrt: f32, gradScale: f32, pad: f32,
  segs: array<Segment, ${MAX_SEGS}>,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> Clip: array<f32>;
@group(0) @binding(3) var<storage, read_write> Param: array<f32>;
@group(0) @binding(4) var<storage, read_write> M: array<f32>;
@group(0) @binding(5) var<storage, read_write> V: array<f32>;
#else
struct Params {
  n: u32, useClip: u32, oneMinusBeta1: f32, oneMinusBeta2: f32,
  lr: f32, beta1: f32, beta2: f32, eps: f32,
  weightDecay: f32, stepSize: f32, bc2sqrt: f32, gradScale: f32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> Clip: array<f32>;
@group(0) @binding(3) var<storage, read_write> Param: array<f32>;
@group(0) @binding(4) var<storage, read_write> M: array<f32>;
@group(0) @binding(5) var<storage, read_write> V: array<f32>;
#endif

#if ${NORM_PARTIAL}
#elif ${NORM_FINAL}
#elif ${NORM_ONE}
#else
// One element of the AdamW update, shared by ADAMW and ADAMW_MULTI (their uniforms name the
// common fields alike), so the per-tensor and multi-tensor updates are the same arithmetic.
fn adamw_element(i: u32, lr: f32, weightDecay: f32, stepSize: f32) {
  var scale = P.gradScale;
  if (P.useClip != 0u) {
    // A step whose gradients are not finite (or a diverged run) changes nothing.
    if (Clip[3] != 0.0) { return; }
    scale = scale * Clip[1];
  }
  let g = G[i] * scale;
  var p = Param[i];
  if (weightDecay != 0.0) { p = p * (1.0 - lr * weightDecay); }
  let m = P.beta1 * M[i] + P.oneMinusBeta1 * g;
  let v = P.beta2 * V[i] + P.oneMinusBeta2 * g * g;
  M[i] = m;
  V[i] = v;
  Param[i] = p - stepSize * m / (sqrt(v) / P.bc2sqrt + P.eps);
}
#endif

#if ${ADAMW}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  let i = (wg.y * nw.x + wg.x) * 256u + lid.x;
  if (i >= P.n) { return; }
  adamw_element(i, P.lr, P.weightDecay, P.stepSize);
}
#elif ${ADAMW_MULTI}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  let local = (wg.y * nw.x + wg.x) * 256u + lid.x;
  if (local >= P.n) { return; }
  let i = P.base + local;
  // The last segment whose start is ≤ i (segments are sorted by start and do not overlap).
  var lo = 0u;
  var hi = P.count;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (P.segs[mid].start <= i) { lo = mid; } else { hi = mid; }
  }
  let seg = P.segs[lo];
  if (i < seg.start || i >= seg.end || seg.live == 0u) { return; }
  adamw_element(i, seg.lr, seg.weightDecay, seg.stepSize);
}
#else
var<workgroup> red: array<f32, 256>;

fn workgroup_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  return red[0];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  let lid = lid3.x;
  var s = 0.0;
#if ${NORM_PARTIAL}
  let stride = nw.x * 256u;
  for (var i = wg.x * 256u + lid; i < P.n; i = i + stride) {
    let x = X[i];
    s = s + x * x;
  }
  let total = workgroup_sum(s, lid);
  if (lid == 0u) { Partials[P.slot + wg.x] = total; }
#else
#if ${NORM_ONE}
  for (var i = lid; i < P.count; i = i + 256u) {
    let x = X[i];
    s = s + x * x;
  }
#else
  for (var i = lid; i < P.count; i = i + 256u) { s = s + Partials[i]; }
#endif
  let total = workgroup_sum(s, lid);
  if (lid == 0u) {
    let norm = P.gradScale * sqrt(total);
    var clip = 1.0;
    if (P.maxNorm > 0.0) { clip = min(1.0, P.maxNorm / (norm + 1e-6)); }
    // NaN and ±Inf have every exponent bit set; comparisons with NaN are not reliable in WGSL.
    let bad = (bitcast<u32>(total) & 0x7f800000u) == 0x7f800000u;
    var skip = select(0.0, 1.0, bad);
    if (P.track != 0u) {
      var streak = Out[4];
      var divergedAt = Out[5];
      if (bad) {
        streak = streak + 1.0;
        Out[6] = Out[6] + 1.0;
        if (divergedAt == 0.0 && streak >= f32(P.patience)) { divergedAt = f32(P.step); }
      } else {
        streak = 0.0;
      }
      if (divergedAt != 0.0) { skip = 1.0; }
      Out[4] = streak;
      Out[5] = divergedAt;
    }
    Out[0] = norm;
    Out[1] = clip;
    Out[2] = total;
    Out[3] = skip;
  }
#endif
}
#endif
