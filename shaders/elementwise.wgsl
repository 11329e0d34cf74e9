// Element-wise kernels over flat f32 arrays. One pipeline serves every mode: the mode is a
// uniform, so adding, scaling, bias broadcasting and activation gradients cost one compile.
// With CAST set the file is instead the f16 / bf16 -> f32 conversion used when loading weights.
//
// Operands: X and Z are read, Out is read-write. X and Z may be broadcast by index modulus
// (xmod / zmod ≠ 0 reads X[i % xmod]), which is how a bias (N) is added to rows of an (R, N)
// tensor. Modes (P.mode):
//   0 COMBINE             Out = α·X + β·Z            (add, scale, bias-add out of place)
//   1 ACCUMULATE          Out = β·Out + α·X          (in-place residual add, gradient accumulation)
//   2 GELU                Out = gelu(X)              (exact erf form, HF "gelu")
//   3 QUICK_GELU          Out = X·σ(1.702·X)         (CLIP "quick_gelu")
//   4 GELU_BACKWARD       Out = Z · gelu'(X)         (X: pre-activation, Z: dY)
//   5 QUICK_GELU_BACKWARD Out = Z · quick_gelu'(X)
//   6 GELU_BACKWARD_IN_PLACE        Out = Out · gelu'(X)        (Out holds dY and becomes dX)
//   7 QUICK_GELU_BACKWARD_IN_PLACE  Out = Out · quick_gelu'(X)
// A term whose coefficient is 0 is not read, so uninitialised memory never leaks in as 0·NaN.

#if ${CAST}
struct Params { n: u32, bf16: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Raw: array<u32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  let i = (wg.y * nw.x + wg.x) * 256u + lid.x;
  if (i >= P.n) { return; }
  // Two 16-bit values per word, little-endian: element i is the low half of word i/2 when even.
  let word = Raw[i / 2u];
  let half = select(word & 0xffffu, word >> 16u, (i & 1u) == 1u);
  if (P.bf16 == 1u) {
    Out[i] = bitcast<f32>(half << 16u);
  } else {
    Out[i] = unpack2x16float(half).x;
  }
}
#else
struct Params { n: u32, mode: u32, xmod: u32, zmod: u32, alpha: f32, beta: f32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Z: array<f32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;

fn x_at(i: u32) -> f32 {
  if (P.xmod != 0u) { return X[i % P.xmod]; }
  return X[i];
}

fn z_at(i: u32) -> f32 {
  if (P.zmod != 0u) { return Z[i % P.zmod]; }
  return Z[i];
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below f32 resolution near 1), the same
// approximation as the matmul epilogue, so a fused and an unfused GELU agree.
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

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  let i = (wg.y * nw.x + wg.x) * 256u + lid.x;
  if (i >= P.n) { return; }
  switch P.mode {
    case 0u: {
      var v = 0.0;
      if (P.alpha != 0.0) { v = P.alpha * x_at(i); }
      if (P.beta != 0.0) { v = v + P.beta * z_at(i); }
      Out[i] = v;
    }
    case 1u: {
      var v = 0.0;
      if (P.beta != 0.0) { v = P.beta * Out[i]; }
      if (P.alpha != 0.0) { v = v + P.alpha * x_at(i); }
      Out[i] = v;
    }
    case 2u: { Out[i] = gelu(x_at(i)); }
    case 3u: { Out[i] = quick_gelu(x_at(i)); }
    case 4u: { Out[i] = z_at(i) * gelu_grad(x_at(i)); }
    case 5u: { Out[i] = z_at(i) * quick_gelu_grad(x_at(i)); }
    case 6u: { Out[i] = Out[i] * gelu_grad(x_at(i)); }
    case 7u: { Out[i] = Out[i] * quick_gelu_grad(x_at(i)); }
    default: {}
  }
}
#endif
