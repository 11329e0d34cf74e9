// Tiled, register-blocked GEMM: C[b] = act(alpha * opA(A[b]) * opB(B[b]) + beta * C[b] + bias).
// opA(A) is M x K (A stored K x M when TRANS_A), opB(B) is K x N (B stored N x K when TRANS_B).
// A WG_X×WG_Y workgroup computes a (4·WG_Y)×(4·WG_X) tile of C, each invocation a 4x4 block held
// in four vec4 accumulators: SwiftShader never finished a variant that indexed a private array in
// its loops. TK is the depth of one staged slice of A and B. By default WG is 16×16 (64x64 tiles)
// for large products and 8×8 (32x32) for small ones, where a 64-wide tile would mostly idle;
// the autotuner (src/engine/tuning) may pick another shape per GEMM shape class and GPU. Every
// tiling sums each output over k in the same order (k = 0, 1, …, K-1 into one accumulator), so
// the tiling changes speed, not results.
// Epilogues beyond bias and activation (all applied per output element, after the k loop):
//   HAS_RESIDUAL   C = R + (alpha·AB + beta·C + bias): a residual add (R read-only), so a block's
//                  `h + linear(x)` is one launch; the sum equals the unfused add(h, y) bit for bit.
//                  R_F16: R is stored as packed f16 pairs (a frozen weight under mixed precision,
//                  when an adapter merges W + ΔW into an f32 copy).
//   SAVE_PRE       also writes the pre-activation value to PreOut (the activation's backward reads it).
//   GRAD_GELU / GRAD_QUICK_GELU   C = (alpha·AB + beta·C) · act'(PreIn): an activation's backward
//                  folded into the GEMM that produces its output gradient (same formulas as
//                  elementwise.wgsl, so fused and unfused agree).
// Split operands (batch 1 only; P.split = S is the part width):
//   SPLIT_N        output columns n come in three parts of S: column n is written to C, C1 or C2
//                  (by n / S, each an M×S tensor) with bias, bias1 or bias2, and opB's column n is
//                  read from B, B1 or B2 (each opB part K×S). One launch computes Q, K and V from
//                  three separate weight tensors.
//   SPLIT_K        the depth k comes in three parts of S: opA's column k is read from A, A1 or A2
//                  (each M×S) and opB's row k from B, B1 or B2 (each S×N): dQ·Wq + dK·Wk + dV·Wv
//                  as one sum over k = 0 … 3S-1.
// B_F16 reads a dense B stored as packed f16 pairs (see Tensor's dtype), with f32 arithmetic; in a
// split GEMM all three parts of B are then f16 (Q, K and V's frozen weights under mixed precision).

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  strideA: u32, strideB: u32, strideC: u32, strideBias: u32,
  alpha: f32, beta: f32, split: u32, pad1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
#if ${B_F16}
// B stored as f16 pairs in u32 words (mixed precision's frozen weights): unpacked to f32 on load.
@group(0) @binding(2) var<storage, read> B: array<u32>;
#else
@group(0) @binding(2) var<storage, read> B: array<f32>;
#endif
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
#if ${HAS_BIAS}
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif
#if ${HAS_RESIDUAL}
#if ${R_F16}
@group(0) @binding(5) var<storage, read> R: array<u32>;
fn r_at(i: u32) -> f32 { return unpack2x16float(R[i >> 1u])[i & 1u]; }
#else
@group(0) @binding(5) var<storage, read> R: array<f32>;
fn r_at(i: u32) -> f32 { return R[i]; }
#endif
#endif
#if ${SAVE_PRE}
@group(0) @binding(6) var<storage, read_write> PreOut: array<f32>;
#endif
#if ${GRAD_ACT}
@group(0) @binding(7) var<storage, read> PreIn: array<f32>;
#endif
#if ${SPLIT}
#if ${B_F16}
@group(0) @binding(20) var<storage, read> B1: array<u32>;
@group(0) @binding(21) var<storage, read> B2: array<u32>;
#else
@group(0) @binding(20) var<storage, read> B1: array<f32>;
@group(0) @binding(21) var<storage, read> B2: array<f32>;
#endif
#endif
#if ${SPLIT_N}
@group(0) @binding(22) var<storage, read_write> C1: array<f32>;
@group(0) @binding(23) var<storage, read_write> C2: array<f32>;
#endif
#if ${SPLIT_N_BIAS}
@group(0) @binding(24) var<storage, read> bias1: array<f32>;
@group(0) @binding(25) var<storage, read> bias2: array<f32>;
#endif
#if ${SPLIT_K}
@group(0) @binding(26) var<storage, read> A1: array<f32>;
@group(0) @binding(27) var<storage, read> A2: array<f32>;
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
#if ${SPLIT_K}
  let part = k / P.split;
  let lk = k - part * P.split;
#if ${TRANS_A}
  let i = lk * P.M + row;
#else
  let i = row * P.split + lk;
#endif
  if (part == 0u) { return A[i]; }
  if (part == 1u) { return A1[i]; }
  return A2[i];
#elif ${TRANS_A}
  return A[b * P.strideA + k * P.M + row];
#else
  return A[b * P.strideA + row * P.K + k];
#endif
}

fn load_b(b: u32, k: u32, col: u32) -> f32 {
  if (k >= P.K || col >= P.N) { return 0.0; }
#if ${SPLIT}
#if ${SPLIT_N}
  let part = col / P.split;
  let lc = col - part * P.split;
#if ${TRANS_B}
  let i = lc * P.K + k;
#else
  let i = k * P.split + lc;
#endif
#else
  let part = k / P.split;
  let lk = k - part * P.split;
#if ${TRANS_B}
  let i = col * P.split + lk;
#else
  let i = lk * P.N + col;
#endif
#endif
  if (part == 0u) { return b_at(i); }
  if (part == 1u) { return b1_at(i); }
  return b2_at(i);
#elif ${TRANS_B}
  return b_at(b * P.strideB + col * P.K + k);
#else
  return b_at(b * P.strideB + k * P.N + col);
#endif
}

#if ${B_F16}
fn b_at(i: u32) -> f32 { return unpack2x16float(B[i >> 1u])[i & 1u]; }
#if ${SPLIT}
fn b1_at(i: u32) -> f32 { return unpack2x16float(B1[i >> 1u])[i & 1u]; }
fn b2_at(i: u32) -> f32 { return unpack2x16float(B2[i >> 1u])[i & 1u]; }
#endif
#else
fn b_at(i: u32) -> f32 { return B[i]; }
#if ${SPLIT}
fn b1_at(i: u32) -> f32 { return B1[i]; }
fn b2_at(i: u32) -> f32 { return B2[i]; }
#endif
#endif

fn activate(v: f32) -> f32 {
#if ${ACT_RELU}
  return max(v, 0.0);
#elif ${ACT_GELU}
  return gelu(v);
#elif ${ACT_QUICK_GELU}
  return quick_gelu(v);
#else
  return v;
#endif
}

// The activations and their derivatives exactly as elementwise.wgsl writes them, so a fused
// epilogue and the separate element-wise launch give the same bits. Exact GELU, x·Φ(x), with erf
// from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), because WGSL has no erf and HF's ViT uses
// the exact form, not the tanh approximation.
fn erf_as(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let r = 1.0 - poly * exp(-z * z);
  return select(-r, r, x >= 0.0);
}

fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_as(x * 0.70710678118654752));
}

// d/dx x·Φ(x) = Φ(x) + x·φ(x)
fn gelu_grad(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_as(x * 0.70710678118654752));
  let pdf = 0.3989422804014327 * exp(-0.5 * x * x);
  return cdf + x * pdf;
}

fn sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

fn quick_gelu(x: f32) -> f32 {
  return x * sigmoid(1.702 * x);
}

// d/dx x·σ(a·x) = σ + a·x·σ·(1 − σ)
fn quick_gelu_grad(x: f32) -> f32 {
  let s = sigmoid(1.702 * x);
  return s + 1.702 * x * s * (1.0 - s);
}

// C (or, split along n, the part that holds this column) at element `idx` of that part.
fn c_load(part: u32, idx: u32) -> f32 {
#if ${SPLIT_N}
  if (part == 1u) { return C1[idx]; }
  if (part == 2u) { return C2[idx]; }
#endif
  return C[idx];
}

fn c_store(part: u32, idx: u32, v: f32) {
#if ${SPLIT_N}
  if (part == 1u) { C1[idx] = v; return; }
  if (part == 2u) { C2[idx] = v; return; }
#endif
  C[idx] = v;
}

#if ${HAS_BIAS}
fn bias_load(part: u32, idx: u32) -> f32 {
#if ${SPLIT_N_BIAS}
  if (part == 1u) { return bias1[idx]; }
  if (part == 2u) { return bias2[idx]; }
#endif
  return bias[idx];
}
#endif

fn store(b: u32, row: u32, col0: u32, v: vec4<f32>) {
  if (row >= P.M) { return; }
  for (var j = 0u; j < 4u; j = j + 1u) {
    let col = col0 + j;
    if (col < P.N) {
#if ${SPLIT_N}
      let part = col / P.split;
      let lc = col - part * P.split;
      let idx = row * P.split + lc;
#else
      let part = 0u;
      let lc = col;
      let idx = b * P.strideC + row * P.N + col;
#endif
      var x = P.alpha * v[j];
      if (P.beta != 0.0) { x = x + P.beta * c_load(part, idx); }
#if ${HAS_BIAS}
      x = x + bias_load(part, b * P.strideBias + lc);
#endif
#if ${HAS_RESIDUAL}
      x = r_at(idx) + x;
#endif
#if ${SAVE_PRE}
      PreOut[idx] = x;
#endif
#if ${GRAD_GELU}
      x = x * gelu_grad(PreIn[idx]);
#elif ${GRAD_QUICK_GELU}
      x = x * quick_gelu_grad(PreIn[idx]);
#endif
      c_store(part, idx, activate(x));
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
