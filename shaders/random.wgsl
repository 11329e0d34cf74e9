// Counter-based random numbers: element i of stream `stream` under seed `seed` is a pure function
// of the three, so a kernel can make any element of a random basis without storing or sharing
// state, and every run, machine and browser gets the same bases. Mirrored bit for bit in
// src/engine/random.ts. hash32 is Wellons' lowbias32, a bijection on u32 with strong avalanche.

fn hash32(x0: u32) -> u32 {
  var x = x0;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  x = x ^ (x >> 16u);
  return x;
}

fn rand_u32(seed: u32, stream: u32, i: u32) -> u32 {
  return hash32(hash32(hash32(i) + seed * 0x9e3779b9u) ^ (stream * 0x85ebca6bu + 0x632be5abu));
}

// Uniform on [0, 1) with 24 bits, so the value is exact in f32 and in the JS mirror.
fn rand_unit(seed: u32, stream: u32, i: u32) -> f32 {
  return f32(rand_u32(seed, stream, i) >> 8u) * (1.0 / 16777216.0);
}
