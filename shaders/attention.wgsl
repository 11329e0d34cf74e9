// Fused multi-head self-attention in the style of FlashAttention (Dao et al. 2022): the B·H·T²
// score and probability matrices never reach memory. Forward and backward read q, k, v, out and
// dO in the layout the query / key / value linears write, (B, T, H·d) with head h in hidden
// columns h·d … h·d + d − 1 (HF ViT and CLIP), and write their results in that layout too, so
// there are no split / merge launches.
//
// Every invocation owns one row (a query row in FORWARD and BACKWARD_DQ, a key row in
// BACKWARD_DKV) and keeps its d-wide vectors in private arrays of vec4s (MAX_D4 of them, the head
// size's power-of-two class; past d they hold zeros, d is P.d); a workgroup owns ROWS consecutive
// rows of one (batch, head) and streams the other side through workgroup memory TILE rows at a
// time. Each output value is summed by exactly one invocation in index order: no atomics, the
// same bits every run.
//
// FORWARD: online softmax over key tiles (running max m and sum l, the accumulator rescaled
//   once per tile), O = acc / l, and the row's logsumexp L = m + log l, (B·H, T), the only thing
//   the backward needs besides the inputs and the output.
// BACKWARD_DQ: Δ_i = Σ_e dO_ie·O_ie, then over key tiles p = exp(s − L_i), dp = dO_i·v_j,
//   dq_i += p·(dp − Δ_i)·k_j; dq = scale·dq.
// BACKWARD_DKV: over query tiles (q pre-scaled, dO, L and Δ in workgroup memory), for the owned
//   key j: dv_j += p·dO_i, dk_j += p·(dp − Δ_i)·(scale·q_i).
// The scores are s = (scale·q)·k in all three, the same products in the same order, so the
// backward's p is the forward's. P.causal = 1 (CLIP's text tower): query i sees keys j ≤ i only,
// and tile loops stop (or start) where the workgroup's rows can see nothing more.

const MAXD4: u32 = ${MAX_D4}u;
const TILE: u32 = ${TILE}u;
const ROWS: u32 = 64u;
const NEG: f32 = -3.4028234663852886e38;

// B, T, H; D = H·d, the row stride; tiles = ⌈T / ROWS⌉ workgroups per (batch, head); groups =
// B·H·tiles; d the head dimension, d4 = ⌈d / 4⌉ (vectors are held as vec4s, zero-padded).
struct Params { B: u32, T: u32, H: u32, D: u32, causal: u32, tiles: u32, groups: u32, scale: f32, d: u32, d4: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;

#if ${FORWARD}
@group(0) @binding(4) var<storage, read_write> O: array<f32>;
@group(0) @binding(5) var<storage, read_write> L: array<f32>;
#else
@group(0) @binding(4) var<storage, read> O: array<f32>;
@group(0) @binding(5) var<storage, read> L: array<f32>;
@group(0) @binding(6) var<storage, read> dO: array<f32>;
#endif
#if ${BACKWARD_DQ}
@group(0) @binding(7) var<storage, read_write> dQ: array<f32>;
#endif
#if ${BACKWARD_DKV}
@group(0) @binding(7) var<storage, read_write> dK: array<f32>;
@group(0) @binding(8) var<storage, read_write> dV: array<f32>;
#endif

// The streamed side of a tile, TILE rows of d4 vec4s: k and v (FORWARD, BACKWARD_DQ) or scale·q
// and dO (BACKWARD_DKV, which also keeps each query row's L and Δ).
var<workgroup> As: array<vec4<f32>, TILE * MAXD4>;
var<workgroup> Bs: array<vec4<f32>, TILE * MAXD4>;
#if ${BACKWARD_DKV}
var<workgroup> Ls: array<f32, TILE>;
var<workgroup> Ds: array<f32, TILE>;
#endif

// Four consecutive values e … e + 3 of a row starting at element `at`, zero past the head
// dimension; one function per buffer (a storage pointer as a parameter needs a WGSL extension
// not every browser has). Out-of-row lanes read the row's first element and are masked.
fn inside(e: u32) -> vec4<bool> { return vec4<u32>(0u, 1u, 2u, 3u) + e < vec4<u32>(P.d); }
fn ix(at: u32, e: u32) -> vec4<u32> { return select(vec4<u32>(at), vec4<u32>(at + e) + vec4<u32>(0u, 1u, 2u, 3u), inside(e)); }
fn ldQ(at: u32, e: u32) -> vec4<f32> { let i = ix(at, e); return select(vec4<f32>(0.0), vec4<f32>(Q[i.x], Q[i.y], Q[i.z], Q[i.w]), inside(e)); }
fn ldK(at: u32, e: u32) -> vec4<f32> { let i = ix(at, e); return select(vec4<f32>(0.0), vec4<f32>(K[i.x], K[i.y], K[i.z], K[i.w]), inside(e)); }
fn ldV(at: u32, e: u32) -> vec4<f32> { let i = ix(at, e); return select(vec4<f32>(0.0), vec4<f32>(V[i.x], V[i.y], V[i.z], V[i.w]), inside(e)); }
#if ${FORWARD}
fn stO(at: u32, e: u32, x: vec4<f32>) { for (var c = 0u; c < 4u; c++) { if (e + c < P.d) { O[at + e + c] = x[c]; } } }
#else
fn ldO(at: u32, e: u32) -> vec4<f32> { let i = ix(at, e); return select(vec4<f32>(0.0), vec4<f32>(O[i.x], O[i.y], O[i.z], O[i.w]), inside(e)); }
fn lddO(at: u32, e: u32) -> vec4<f32> { let i = ix(at, e); return select(vec4<f32>(0.0), vec4<f32>(dO[i.x], dO[i.y], dO[i.z], dO[i.w]), inside(e)); }
#endif
#if ${BACKWARD_DQ}
fn stdQ(at: u32, e: u32, x: vec4<f32>) { for (var c = 0u; c < 4u; c++) { if (e + c < P.d) { dQ[at + e + c] = x[c]; } } }
#endif
#if ${BACKWARD_DKV}
fn stdK(at: u32, e: u32, x: vec4<f32>) { for (var c = 0u; c < 4u; c++) { if (e + c < P.d) { dK[at + e + c] = x[c]; } } }
fn stdV(at: u32, e: u32, x: vec4<f32>) { for (var c = 0u; c < 4u; c++) { if (e + c < P.d) { dV[at + e + c] = x[c]; } } }
#endif

// Σ_c a_c·b_c over the four lanes, in a fixed order (no dot(): its order is the compiler's).
fn dot4(a: vec4<f32>, b: vec4<f32>) -> f32 {
  let p = a * b;
  return ((p.x + p.y) + p.z) + p.w;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  let flat = wg.y * nw.x + wg.x;
  if (flat >= P.groups) { return; }
  let lid = lid3.x;
  let d4 = P.d4;
  let bh = flat / P.tiles;
  let row0 = (flat % P.tiles) * ROWS;
  let b = bh / P.H;
  let h = bh % P.H;
  // Element (t, e) of this (batch, head) is at base + t·D + e.
  let base = b * P.T * P.D + h * P.d;
  let r = row0 + lid;
  let live = r < P.T;
  let at = base + r * P.D;

#if ${FORWARD}
  var q: array<vec4<f32>, MAXD4>;
  var acc: array<vec4<f32>, MAXD4>;
  var s: array<f32, TILE>;
  if (live) { for (var e = 0u; e < d4; e++) { q[e] = ldQ(at, 4u * e) * P.scale; acc[e] = vec4<f32>(0.0); } }
  var m = NEG;
  var l = 0.0;
  var seen = P.T;
  if (P.causal == 1u) { seen = r + 1u; }
  var end = P.T;
  if (P.causal == 1u) { end = min(P.T, row0 + ROWS); }
  for (var j0 = 0u; j0 < end; j0 += TILE) {
    let n = min(TILE, end - j0);
    workgroupBarrier();
    for (var x = lid; x < n * d4; x += ROWS) {
      let g = base + (j0 + x / d4) * P.D;
      As[x] = ldK(g, 4u * (x % d4));
      Bs[x] = ldV(g, 4u * (x % d4));
    }
    workgroupBarrier();
    if (live && j0 < seen) {
      let nj = min(n, seen - j0);
      var tm = m;
      for (var j = 0u; j < nj; j++) {
        var sc = 0.0;
        for (var e = 0u; e < d4; e++) { sc += dot4(q[e], As[j * d4 + e]); }
        s[j] = sc;
        tm = max(tm, sc);
      }
      let c = exp(m - tm);
      l *= c;
      for (var e = 0u; e < d4; e++) { acc[e] *= c; }
      m = tm;
      for (var j = 0u; j < nj; j++) {
        let p = exp(s[j] - m);
        l += p;
        for (var e = 0u; e < d4; e++) { acc[e] += p * Bs[j * d4 + e]; }
      }
    }
  }
  if (live) {
    let inv = 1.0 / l;
    for (var e = 0u; e < d4; e++) { stO(at, 4u * e, acc[e] * inv); }
    L[bh * P.T + r] = m + log(l);
  }
#endif

#if ${BACKWARD_DQ}
  var q: array<vec4<f32>, MAXD4>;
  var g: array<vec4<f32>, MAXD4>;
  var dq: array<vec4<f32>, MAXD4>;
  var delta = 0.0;
  var lse = 0.0;
  if (live) {
    for (var e = 0u; e < d4; e++) {
      q[e] = ldQ(at, 4u * e) * P.scale;
      g[e] = lddO(at, 4u * e);
      dq[e] = vec4<f32>(0.0);
      delta += dot4(g[e], ldO(at, 4u * e));
    }
    lse = L[bh * P.T + r];
  }
  var seen = P.T;
  if (P.causal == 1u) { seen = r + 1u; }
  var end = P.T;
  if (P.causal == 1u) { end = min(P.T, row0 + ROWS); }
  for (var j0 = 0u; j0 < end; j0 += TILE) {
    let n = min(TILE, end - j0);
    workgroupBarrier();
    for (var x = lid; x < n * d4; x += ROWS) {
      let gi = base + (j0 + x / d4) * P.D;
      As[x] = ldK(gi, 4u * (x % d4));
      Bs[x] = ldV(gi, 4u * (x % d4));
    }
    workgroupBarrier();
    if (live && j0 < seen) {
      let nj = min(n, seen - j0);
      for (var j = 0u; j < nj; j++) {
        var sc = 0.0;
        var dp = 0.0;
        for (var e = 0u; e < d4; e++) {
          sc += dot4(q[e], As[j * d4 + e]);
          dp += dot4(g[e], Bs[j * d4 + e]);
        }
        let ds = exp(sc - lse) * (dp - delta);
        for (var e = 0u; e < d4; e++) { dq[e] += ds * As[j * d4 + e]; }
      }
    }
  }
  if (live) { for (var e = 0u; e < d4; e++) { stdQ(at, 4u * e, dq[e] * P.scale); } }
#endif

#if ${BACKWARD_DKV}
  var k: array<vec4<f32>, MAXD4>;
  var v: array<vec4<f32>, MAXD4>;
  var dk: array<vec4<f32>, MAXD4>;
  var dv: array<vec4<f32>, MAXD4>;
  if (live) {
    for (var e = 0u; e < d4; e++) {
      k[e] = ldK(at, 4u * e);
      v[e] = ldV(at, 4u * e);
      dk[e] = vec4<f32>(0.0);
      dv[e] = vec4<f32>(0.0);
    }
  }
  // Causal: queries before the workgroup's first key see none of its keys.
  var start = 0u;
  if (P.causal == 1u) { start = row0; }
  for (var i0 = start; i0 < P.T; i0 += TILE) {
    let n = min(TILE, P.T - i0);
    workgroupBarrier();
    for (var x = lid; x < n * d4; x += ROWS) {
      let gi = base + (i0 + x / d4) * P.D;
      As[x] = ldQ(gi, 4u * (x % d4)) * P.scale;
      Bs[x] = lddO(gi, 4u * (x % d4));
    }
    // Δ in the same order as BACKWARD_DQ, so both kernels see the same bits.
    for (var x = lid; x < n; x += ROWS) {
      let gi = base + (i0 + x) * P.D;
      var delta = 0.0;
      for (var e = 0u; e < d4; e++) { delta += dot4(lddO(gi, 4u * e), ldO(gi, 4u * e)); }
      Ds[x] = delta;
      Ls[x] = L[bh * P.T + i0 + x];
    }
    workgroupBarrier();
    if (live) {
      // Causal: query i sees key r only when i ≥ r.
      var first = 0u;
      if (P.causal == 1u && r > i0) { first = min(n, r - i0); }
      for (var i = first; i < n; i++) {
        var sc = 0.0;
        var dp = 0.0;
        for (var e = 0u; e < d4; e++) {
          sc += dot4(As[i * d4 + e], k[e]);
          dp += dot4(Bs[i * d4 + e], v[e]);
        }
        let p = exp(sc - Ls[i]);
        let ds = p * (dp - Ds[i]);
        for (var e = 0u; e < d4; e++) {
          dv[e] += p * Bs[i * d4 + e];
          dk[e] += ds * As[i * d4 + e];
        }
      }
    }
  }
  if (live) {
    for (var e = 0u; e < d4; e++) { stdK(at, 4u * e, dk[e]); stdV(at, 4u * e, dv[e]); }
  }
#endif
}
