// Tiled, register-blocked GEMM: C[b] = act(alpha * opA(A[b]) * opB(B[b]) + beta * C[b] + bias).
// opA(A) is M x K (A stored K x M when TRANS_A), opB(B) is K x N (B stored N x K when TRANS_B).
// A WG_X×WG_Y workgroup computes a (4·WG_Y)×(4·WG_X) tile of C, each invocation a 4x4 block held
// in four vec4 accumulators: SwiftShader never finished a variant that indexed a private array in
// its loops. TK is the depth of one staged slice of A and B. By default WG is 16×16 (64x64 tiles)
// for large products and 8×8 (32x32) for small ones, where a 64-wide tile would mostly idle;
// the autotuner (src/engine/tuning) may pick another shape per GEMM shape class and GPU. Every
// tiling sums each output over k in the same order (k = 0, 1, …, K-1 into one accumulator), so
// the tiling changes speed, not results.
// An operand can be generated instead of read (A_CUSTOM / B_CUSTOM): the including kernel then
// supplies `fn custom_a(b, row, k) -> f32` or `fn custom_b(b, k, col) -> f32` and its own bindings
// from 8 up. That is how the fused adapter kernels build their operands inside the tile loads.
// B_F16 reads a dense B stored as packed f16 pairs (see Tensor's dtype), with f32 arithmetic.

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  strideA: u32, strideB: u32, strideC: u32, strideBias: u32,
  alpha: f32, beta: f32, pad0: u32, pad1: u32,
  // Free slots for custom operand generators (shapes, offsets, scale factors).
  ext: vec4<u32>,
  extf: vec4<f32>,
}

@group(0) @binding(0) var<uniform> P: Params;
#if ${A_DENSE}
@group(0) @binding(1) var<storage, read> A: array<f32>;
#endif
#if ${B_DENSE_F32}
@group(0) @binding(2) var<storage, read> B: array<f32>;
#endif
#if ${B_F16}
// B stored as f16 pairs in u32 words (mixed precision's frozen weights): unpacked to f32 on load.
@group(0) @binding(2) var<storage, read> B: array<u32>;
#endif
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
#if ${HAS_BIAS}
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif

const WG_X: u32 = ${WG_X}u;
const WG_Y: u32 = ${WG_Y}u;
const THREADS: u32 = WG_X * WG_Y;
const TILE_M: u32 = 4u * WG_Y;
const TILE_N: u32 = 4u * WG_X;
const TK: u32 = ${TK}u;

var<workgroup> As: array<vec4<f32>, ${A_VEC4S}>; // [TK][WG_Y]: As[k*WG_Y + i/4] holds rows i..i+3 at depth k
var<workgroup> Bs: array<vec4<f32>, ${B_VEC4S}>; // [TK][WG_X]: Bs[k*WG_X + j/4] holds cols j..j+3 at depth k

fn load_a(b: u32, row: u32, k: u32) -> f32 {
  if (row >= P.M || k >= P.K) { return 0.0; }
#if ${A_CUSTOM}
  return custom_a(b, row, k);
#elif ${TRANS_A}
  return A[b * P.strideA + k * P.M + row];
#else
  return A[b * P.strideA + row * P.K + k];
#endif
}

fn load_b(b: u32, k: u32, col: u32) -> f32 {
  if (k >= P.K || col >= P.N) { return 0.0; }
#if ${B_CUSTOM}
  return custom_b(b, k, col);
#elif ${TRANS_B}
  return b_at(b * P.strideB + col * P.K + k);
#else
  return b_at(b * P.strideB + k * P.N + col);
#endif
}

#if ${B_F16}
fn b_at(i: u32) -> f32 { return unpack2x16float(B[i >> 1u])[i & 1u]; }
#elif ${B_DENSE_F32}
fn b_at(i: u32) -> f32 { return B[i]; }
#endif

fn activate(v: f32) -> f32 {
#if ${ACT_RELU}
  return max(v, 0.0);
#elif ${ACT_GELU}
  return gelu_erf(v);
#elif ${ACT_QUICK_GELU}
  return v / (1.0 + exp(-1.702 * v));
#else
  return v;
#endif
}

// Exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), because
// WGSL has no erf and HF's ViT uses the exact form, not the tanh approximation.
fn gelu_erf(x: f32) -> f32 {
  let z = abs(x) * 0.70710678118654752;
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let erf_abs = 1.0 - poly * exp(-z * z);
  let erf_x = select(-erf_abs, erf_abs, x >= 0.0);
  return 0.5 * x * (1.0 + erf_x);
}

fn store(b: u32, row: u32, col0: u32, v: vec4<f32>) {
  if (row >= P.M) { return; }
  for (var j = 0u; j < 4u; j = j + 1u) {
    let col = col0 + j;
    if (col < P.N) {
      let idx = b * P.strideC + row * P.N + col;
      var x = P.alpha * v[j];
      if (P.beta != 0.0) { x = x + P.beta * C[idx]; }
#if ${HAS_BIAS}
      x = x + bias[b * P.strideBias + col];
#endif
      C[idx] = activate(x);
    }
  }
}

@compute @workgroup_size(${WG_X}, ${WG_Y}, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z;
  let row0 = wg.y * TILE_M;
  let col0 = wg.x * TILE_N;
  let tid = lid.y * WG_X + lid.x;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < P.K; k0 = k0 + TK) {
    // Stage both tiles, one vec4 (4 consecutive rows of A / cols of B at one depth) at a time.
    for (var e = tid; e < TK * WG_Y; e = e + THREADS) {
      let k = k0 + e / WG_Y;
      let l4 = (e % WG_Y) * 4u;
      As[e] = vec4<f32>(
        load_a(b, row0 + l4, k), load_a(b, row0 + l4 + 1u, k),
        load_a(b, row0 + l4 + 2u, k), load_a(b, row0 + l4 + 3u, k));
    }
    for (var e = tid; e < TK * WG_X; e = e + THREADS) {
      let k = k0 + e / WG_X;
      let l4 = (e % WG_X) * 4u;
      Bs[e] = vec4<f32>(
        load_b(b, k, col0 + l4), load_b(b, k, col0 + l4 + 1u),
        load_b(b, k, col0 + l4 + 2u), load_b(b, k, col0 + l4 + 3u));
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk = kk + 1u) {
      let a = As[kk * WG_Y + lid.y];
      let bv = Bs[kk * WG_X + lid.x];
      acc0 = acc0 + a.x * bv;
      acc1 = acc1 + a.y * bv;
      acc2 = acc2 + a.z * bv;
      acc3 = acc3 + a.w * bv;
    }
    workgroupBarrier();
  }
  let r = row0 + lid.y * 4u;
  let c = col0 + lid.x * 4u;
  store(b, r, c, acc0);
  store(b, r + 1u, c, acc1);
  store(b, r + 2u, c, acc2);
  store(b, r + 3u, c, acc3);
}
