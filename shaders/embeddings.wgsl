// im2col for a patch-embedding convolution (Conv2d with kernel = stride = p, no padding, as in
// HF ViT and CLIP): Out (B, gh·gw, C·p·p) with row (b, py·gw + px) holding the patch at (py, px)
// in the weight's flattening order (c, ky, kx), so conv(x) = Out · W(hidden, C·p·p)ᵀ.
// Rows and columns beyond gh·p / gw·p (image sides that p does not divide) are dropped, as the
// strided convolution drops them.

struct Params { B: u32, C: u32, H: u32, W: u32, p: u32, gh: u32, gw: u32, n: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Img: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  let i = (wg.y * nw.x + wg.x) * 256u + lid.x;
  if (i >= P.n) { return; }
  let pp = P.p * P.p;
  let K = P.C * pp;
  let col = i % K;
  let row = i / K;
  let np = P.gh * P.gw;
  let b = row / np;
  let cell = row % np;
  let py = cell / P.gw;
  let px = cell % P.gw;
  let c = col / pp;
  let rem = col % pp;
  let ky = rem / P.p;
  let kx = rem % P.p;
  Out[i] = Img[((b * P.C + c) * P.H + py * P.p + ky) * P.W + px * P.p + kx];
}
