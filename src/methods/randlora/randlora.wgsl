// RandLoRA, as PEFT's tuners/randlora defines it. Per layer, with m = min(in, out), nb = ceil(m / r):
//   S[j, c]  = lambda[k, n] * A[k, 0, c] * gamma[n, c]   with j = k*nb + n   (r*nb x m)
//   Bf[i, j] = B[i, j div r, j mod r] = B_flat[i * nb_g * r + j]         (max(in, out) x r*nb)
// and delta W = s * Bf * S (in <= out) or its transpose (in > out). Both sides are indexed by the
// same flat j, exactly as PEFT's flatten calls leave them, so Bf's column j (n = j div r) meets S's
// row j (k = j div nb): the pairing is PEFT's, and exported adapters mean the same there.
//
// Two uses of this file:
// - OPERAND: a generator appended to shaders/matmul.wgsl, which builds S, its transpose or the
//   strided slice Bf inside the GEMM's tile loads (S is never stored; Bf's rows are nb_g*r apart in
//   the shared basis, so no dense view of it exists when nb < nb_g). It reads the GEMM's uniform P:
//   P.ext = (nb, A row stride m_g, m, B row stride nb_g*r).
// - otherwise: small standalone kernels: materialising S (the merged weight needs one generated
//   and one stored operand), and reducing the gradient G = dL/dS onto lambda and gamma.

#if ${OPERAND}

#if ${S_OPERAND}
@group(0) @binding(8) var<storage, read> rl_lambda: array<f32>;
@group(0) @binding(9) var<storage, read> rl_basis_a: array<f32>;
@group(0) @binding(10) var<storage, read> rl_gamma: array<f32>;

fn rl_s(j: u32, c: u32) -> f32 {
  let nb = P.ext.x;
  let k = j / nb;
  return rl_lambda[j] * rl_basis_a[k * P.ext.y + c] * rl_gamma[(j - k * nb) * P.ext.z + c];
}

#if ${TRANSPOSED}
fn custom_b(b: u32, k: u32, col: u32) -> f32 { return rl_s(col, k); }
#else
fn custom_b(b: u32, k: u32, col: u32) -> f32 { return rl_s(k, col); }
#endif
#endif

#if ${BF_OPERAND}
@group(0) @binding(8) var<storage, read> rl_basis_b: array<f32>;

fn rl_bf(i: u32, j: u32) -> f32 { return rl_basis_b[i * P.ext.w + j]; }

#if ${SIDE_A}
#if ${TRANSPOSED}
fn custom_a(b: u32, row: u32, k: u32) -> f32 { return rl_bf(k, row); }
#else
fn custom_a(b: u32, row: u32, k: u32) -> f32 { return rl_bf(row, k); }
#endif
#elif ${TRANSPOSED}
fn custom_b(b: u32, k: u32, col: u32) -> f32 { return rl_bf(col, k); }
#else
fn custom_b(b: u32, k: u32, col: u32) -> f32 { return rl_bf(k, col); }
#endif
#endif

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

#if ${GRAD_LAMBDA}
@group(0) @binding(4) var<storage, read> grad_s: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_lambda: array<f32>;

var<workgroup> partial: array<f32, 256>;

// dlambda[k, n] = sum_c G[j, c] * A[k, c] * gamma[n, c]: one workgroup per j = k*nb + n, its
// invocations striding along c so that the reads of G, A and gamma are contiguous.
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let j = wg.x + wg.y * nw.x;
  let valid = j < Q.r * Q.nb;
  var acc = 0.0;
  if (valid) {
    let k = j / Q.nb;
    let a0 = k * Q.mg;
    let g0 = (j - k * Q.nb) * Q.m;
    let s0 = j * Q.m;
    for (var c = t; c < Q.m; c = c + 256u) {
      acc = acc + grad_s[s0 + c] * basis_a[a0 + c] * gamma[g0 + c];
    }
  }
  partial[t] = acc;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (t < w) { partial[t] = partial[t] + partial[t + w]; }
    workgroupBarrier();
  }
  if (t == 0u && valid) {
    var v = partial[0];
    if (Q.accumulate == 1u) { v = v + grad_lambda[j]; }
    grad_lambda[j] = v;
  }
}
#endif

#if ${GRAD_GAMMA}
@group(0) @binding(4) var<storage, read> grad_s: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_gamma: array<f32>;

// dgamma[n, c] = sum_k G[k*nb + n, c] * lambda[k, n] * A[k, c]: one invocation per (n, c), so
// neighbouring invocations read neighbouring c.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let idx = g.x + g.y * nw.x * 256u;
  if (idx >= Q.nb * Q.m) { return; }
  let n = idx / Q.m;
  let c = idx - n * Q.m;
  var acc = 0.0;
  for (var k = 0u; k < Q.r; k = k + 1u) {
    let j = k * Q.nb + n;
    acc = acc + grad_s[j * Q.m + c] * lambda[j] * basis_a[k * Q.mg + c];
  }
  if (Q.accumulate == 1u) { acc = acc + grad_gamma[idx]; }
  grad_gamma[idx] = acc;
}
#endif

#endif
