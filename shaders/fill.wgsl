// Fills a tensor with counter-based random values: uniform on [lo, hi) or normal(0, std).
// Random bases are materialised with this where reading them is cheaper than regenerating them.

struct Params { n: u32, seed: u32, stream: u32, normal: u32, lo: f32, hi: f32, sigma: f32, pad: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = g.x + g.y * nw.x * 256u;
  if (i >= P.n) { return; }
  if (P.normal == 1u) {
    // Box-Muller on two uniforms drawn at 2i and 2i+1; u1 is kept away from 0 for the log.
    let u1 = rand_unit(P.seed, P.stream, 2u * i) + (0.5 / 16777216.0);
    let u2 = rand_unit(P.seed, P.stream, 2u * i + 1u);
    out[i] = P.sigma * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
  } else {
    out[i] = P.lo + (P.hi - P.lo) * rand_unit(P.seed, P.stream, i);
  }
}
