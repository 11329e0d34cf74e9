// NOLA's two reductions over a stack of k frozen random bases, each basis a flat vector of E values
// (A_i: I x rank, or B_j: rank x O, row-major), the stack row-major (k, E):
//   MIX:      out[e] = sum_i v[i] * basis(i, e)   (A = sum alpha_i A_i; v = coefficients, length k)
//   PROJECT:  out[i] = sum_e basis(i, e) * v[e]   (d alpha_i = <A_i, dA>; v = vec(dA), length E)
// Both are matrix-vector products with one side of width 1, which a 64x64-tiled GEMM would waste
// 63/64 of its tile on, so they get dedicated reductions here. The rank-r products around them
// (x*A, (xA)*B and the backward ones) go through matmul.wgsl.
//
// With DENSE the bases are read from a materialised (k, E) tensor; otherwise each element is made
// on the fly from the counter-based generator (random.wgsl, appended by the host) with exactly the
// expression of fill.wgsl's uniform branch, so the two modes see the same values and the bases
// cost hashing instead of k * E * 4 bytes of memory per layer.

struct Params {
  E: u32, k: u32, seed: u32, stream: u32,
  lo: f32, hi: f32, pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#if ${DENSE}
@group(0) @binding(3) var<storage, read> bases: array<f32>;
#endif

fn basis(i: u32, e: u32) -> f32 {
#if ${DENSE}
  return bases[i * P.E + e];
#else
  return P.lo + (P.hi - P.lo) * rand_unit(P.seed, P.stream, i * P.E + e);
#endif
}

#if ${MIX}
// 64 consecutive elements per workgroup so basis rows are read in full cache lines, and 4 slices of
// the k bases per element so a small E (rank 1, narrow layers) still keeps 256 invocations busy.
const LANES: u32 = 64u;
const SLICES: u32 = 4u;
var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(64, 4, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = (wg.x + wg.y * nw.x) * LANES + lid.x;
  var acc = 0.0;
  if (e < P.E) {
    for (var i = lid.y; i < P.k; i = i + SLICES) {
      acc = acc + v[i] * basis(i, e);
    }
  }
  part[lid.y * LANES + lid.x] = acc;
  workgroupBarrier();
  if (lid.y == 0u && e < P.E) {
    out[e] = (part[lid.x] + part[LANES + lid.x]) + (part[2u * LANES + lid.x] + part[3u * LANES + lid.x]);
  }
}
#else
// One invocation per basis, summing its E products in order. No workgroup barriers: a tree
// reduction per basis cost far more than the products (k = 1024 bases of a few hundred values each,
// and CPU-emulated GPUs pay dearly for every barrier), and the order stays fixed, so deterministic.
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = g.x + g.y * nw.x * 64u;
  if (i >= P.k) { return; }
  var acc = 0.0;
  for (var e = 0u; e < P.E; e = e + 1u) {
    acc = acc + basis(i, e) * v[e];
  }
  out[i] = acc;
}
#endif
