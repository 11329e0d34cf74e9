// Images to model input on the GPU: bytes (B, h, w, c) → floats (B, 3, S, S), bilinear resize
// (half-pixel centres, as PIL's and torchvision's bilinear without antialias), rescale by 1/255,
// normalise per channel with the model's own mean and std; one channel is expanded to three.
// Bytes arrive packed four to a u32 because WGSL storage has no 8-bit type.
//
// With AUGMENT, each image b is first cropped to its box (x0, y0, width, height), then resized,
// then flipped left-right when its flag is set: a random resized crop and a horizontal flip in
// the same pass. The boxes are chosen on the CPU with the seeded generator; resizing within the
// box (sampling clamped to the box's edges) is exactly crop-then-resize. Without AUGMENT the box
// is the whole image and the arithmetic is the plain resize's, to the bit.

struct Params {
  batch: u32, h: u32, w: u32, c: u32,
  S: u32, pad0: u32, pad1: u32, pad2: u32,
  mean: vec4<f32>,
  invStd: vec4<f32>,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#if ${AUGMENT}
// Eight u32 per image: x0, y0, width, height, flip (0 or 1), then padding.
@group(0) @binding(3) var<storage, read> boxes: array<u32>;
#endif

fn byte_at(i: u32) -> f32 {
  return f32((pixels[i / 4u] >> (8u * (i % 4u))) & 0xffu);
}

fn texel(b: u32, y: u32, x: u32, ch: u32) -> f32 {
  let c = select(ch, 0u, P.c == 1u);
  return byte_at(((b * P.h + y) * P.w + x) * P.c + c);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = g.x + g.y * nw.x * 256u;
  let S = P.S;
  if (i >= P.batch * 3u * S * S) { return; }
  var x = i % S;
  let y = (i / S) % S;
  let ch = (i / (S * S)) % 3u;
  let b = i / (3u * S * S);
  var bx = 0u;
  var by = 0u;
  var bw = P.w;
  var bh = P.h;
#if ${AUGMENT}
  let o = b * 8u;
  bx = boxes[o];
  by = boxes[o + 1u];
  bw = boxes[o + 2u];
  bh = boxes[o + 3u];
  if (boxes[o + 4u] != 0u) { x = S - 1u - x; }
#endif
  let sy = clamp((f32(y) + 0.5) * f32(bh) / f32(S) - 0.5, 0.0, f32(bh - 1u));
  let sx = clamp((f32(x) + 0.5) * f32(bw) / f32(S) - 0.5, 0.0, f32(bw - 1u));
  let y0 = u32(floor(sy));
  let x0 = u32(floor(sx));
  let y1 = min(y0 + 1u, bh - 1u);
  let x1 = min(x0 + 1u, bw - 1u);
  let fy = sy - f32(y0);
  let fx = sx - f32(x0);
  let top = mix(texel(b, by + y0, bx + x0, ch), texel(b, by + y0, bx + x1, ch), fx);
  let bot = mix(texel(b, by + y1, bx + x0, ch), texel(b, by + y1, bx + x1, ch), fx);
  let v = mix(top, bot, fy) / 255.0;
  out[i] = (v - P.mean[ch]) * P.invStd[ch];
}
