// aTLAS composition of one block (one parameter tensor of n elements) from T task vectors:
//
//   COMPOSE:      θ[e] = θ₀[e] + Σ_t λ[off + t·K + g(e)] · τ[t·n + e]
//   GRAD_PARTIAL: partial[(t·K + k)·chunks + c] = Σ_{e in chunk c, g(e) = k} dθ[e] · τ[t·n + e]
//   GRAD_FINAL:   grad[off + t·K + k] = Σ_c partial[(t·K + k)·chunks + c]
//
// τ is one (T, n) buffer per block, resident for the whole run; λ and its gradient are one
// (blocks, T, K) tensor, this block's slice starting at `lambdaOffset`. g(e) is aTLAS×K's group
// of element e (src/compose/groups.ts): rand_u32(seed, stream, e) mod K, or 0 when K = 1. The
// gradient is a two-stage reduction: workgroups of 256 lanes sum a chunk of elements per (t, k),
// then one workgroup per (t, k) sums the chunks, so no per-task copy of anything is made.

struct Params {
  n: u32, tasks: u32, groups: u32, seed: u32,
  stream: u32, lambdaOffset: u32, chunk: u32, chunks: u32,
}
@group(0) @binding(0) var<uniform> P: Params;

fn group_of(e: u32) -> u32 {
  if (P.groups <= 1u) { return 0u; }
  return rand_u32(P.seed, P.stream, e) % P.groups;
}

#if ${COMPOSE}
@group(0) @binding(1) var<storage, read> theta0: array<f32>;
@group(0) @binding(2) var<storage, read> tau: array<f32>;
@group(0) @binding(3) var<storage, read> lambda: array<f32>;
@group(0) @binding(4) var<storage, read_write> theta: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = (wg.y * nw.x + wg.x) * 256u + lid.x;
  if (e >= P.n) { return; }
  let base = P.lambdaOffset + group_of(e);
  var s = 0.0;
  for (var t = 0u; t < P.tasks; t = t + 1u) {
    s = s + lambda[base + t * P.groups] * tau[t * P.n + e];
  }
  theta[e] = theta0[e] + s;
}
#endif

var<workgroup> red: array<f32, 256>;

// Sum of red[0..256) into red[0]; every lane of the workgroup must call it.
fn reduce_workgroup(lane: u32) {
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lane < w) { red[lane] = red[lane] + red[lane + w]; }
    workgroupBarrier();
  }
}

#if ${GRAD_PARTIAL}
@group(0) @binding(1) var<storage, read> dtheta: array<f32>;
@group(0) @binding(2) var<storage, read> tau: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

// Grid (chunks, K): workgroup (c, k) covers elements [c·chunk, (c+1)·chunk) for group k.
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wg.x;
  let k = wg.y;
  let e0 = c * P.chunk;
  let e1 = min(P.n, e0 + P.chunk);
  for (var t = 0u; t < P.tasks; t = t + 1u) {
    var s = 0.0;
    for (var e = e0 + lid.x; e < e1; e = e + 256u) {
      if (group_of(e) == k) { s = s + dtheta[e] * tau[t * P.n + e]; }
    }
    red[lid.x] = s;
    workgroupBarrier();
    reduce_workgroup(lid.x);
    if (lid.x == 0u) { partial[(t * P.groups + k) * P.chunks + c] = red[0]; }
    workgroupBarrier();
  }
}
#endif

#if ${GRAD_FINAL}
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;

// One workgroup per (t, k) = wg.x.
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tk = wg.x;
  var s = 0.0;
  for (var c = lid.x; c < P.chunks; c = c + 256u) { s = s + partial[tk * P.chunks + c]; }
  red[lid.x] = s;
  workgroupBarrier();
  reduce_workgroup(lid.x);
  if (lid.x == 0u) { grad[P.lambdaOffset + tk] = red[0]; }
}
#endif
