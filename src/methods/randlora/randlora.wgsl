// RandLoRA, as PEFT's tuners/randlora defines it. Per layer, with m = min(in, out), nb = ceil(m / r):
//   S[j, c]  = lambda[k, n] * A[k, 0, c] * gamma[n, c]   with j = k*nb + n   (r*nb x m)
//   Bf[i, j] = B[i, j div r, j mod r] = B_flat[i * nb_g * r + j]         (max(in, out) x r*nb)
// and delta W = s * Bf * S (in <= out) or its transpose (in > out). Both sides are indexed by the
// same flat j, exactly as PEFT's flatten calls leave them, so Bf's column j (n = j div r) meets S's
// row j (k = j div nb): the pairing is PEFT's, and exported adapters mean the same there.
//
// Small standalone kernels around the shared GEMM (which reads every operand dense, so it runs
// with the device's tuned tiling): copying the strided slice Bf out of the shared basis (once per
// layer shape), materialising S, and reducing the gradient G = dL/dS onto lambda and gamma.

#if ${MATERIALISE_BF}

// Bf (M x r*nb) copied out of the shared basis once per layer shape: the basis is frozen, so this
// runs when the adapters are made, not per step, and every GEMM then reads a dense, tunable operand.
struct BfParams { rows: u32, cols: u32, stride: u32, pad: u32 }
@group(0) @binding(0) var<uniform> F: BfParams;
@group(0) @binding(1) var<storage, read> basis_b: array<f32>;
@group(0) @binding(2) var<storage, read_write> bf_out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let idx = g.x + g.y * nw.x * 256u;
  if (idx >= F.rows * F.cols) { return; }
  let i = idx / F.cols;
  bf_out[idx] = basis_b[i * F.stride + (idx - i * F.cols)];
}

#else

struct Params {
  r: u32, nb: u32, m: u32, mg: u32,
  // 1: add into the existing gradient (accumulation over micro-batches); 0: overwrite.
  accumulate: u32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> Q: Params;
@group(0) @binding(1) var<storage, read> lambda: array<f32>;
@group(0) @binding(2) var<storage, read> basis_a: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;

#if ${MATERIALISE_S}
@group(0) @binding(4) var<storage, read_write> s_out: array<f32>;

// One invocation per element of S; dispatched 2-D so that r*nb*m may exceed 65535 * 256.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let idx = g.x + g.y * nw.x * 256u;
  if (idx >= Q.r * Q.nb * Q.m) { return; }
  let j = idx / Q.m;
  let c = idx - j * Q.m;
  let k = j / Q.nb;
  s_out[idx] = lambda[j] * basis_a[k * Q.mg + c] * gamma[(j - k * Q.nb) * Q.m + c];
}
#endif

#if ${GRAD_SCALINGS}
@group(0) @binding(4) var<storage, read> grad_s: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_lambda: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_gamma: array<f32>;

// Both reductions of G = dL/dS in one launch, one invocation per output, each summing in a fixed
// order with no workgroup barriers (a barrier tree costs more than the arithmetic here, above all
// on CPU-emulated GPUs, and the sums are short: m terms for λ, r for γ).
//   idx <  r*nb: dlambda[j] = sum_c G[j, c] * A[k, c] * gamma[n, c]      (j = k*nb + n)
//   idx >= r*nb: dgamma[n, c] = sum_k G[k*nb + n, c] * lambda[k, n] * A[k, c]
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let idx = g.x + g.y * nw.x * 256u;
  let J = Q.r * Q.nb;
  if (idx < J) {
    let j = idx;
    let k = j / Q.nb;
    let a0 = k * Q.mg;
    let g0 = (j - k * Q.nb) * Q.m;
    let s0 = j * Q.m;
    var acc = 0.0;
    for (var c = 0u; c < Q.m; c = c + 1u) {
      acc = acc + grad_s[s0 + c] * basis_a[a0 + c] * gamma[g0 + c];
    }
    if (Q.accumulate == 1u) { acc = acc + grad_lambda[j]; }
    grad_lambda[j] = acc;
    return;
  }
  let e = idx - J;
  if (e >= Q.nb * Q.m) { return; }
  let n = e / Q.m;
  let c = e - n * Q.m;
  var acc = 0.0;
  for (var k = 0u; k < Q.r; k = k + 1u) {
    let j = k * Q.nb + n;
    acc = acc + grad_s[j * Q.m + c] * lambda[j] * basis_a[k * Q.mg + c];
  }
  if (Q.accumulate == 1u) { acc = acc + grad_gamma[e]; }
  grad_gamma[e] = acc;
}
#endif

#endif
