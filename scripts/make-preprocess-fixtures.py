#!/usr/bin/python3
"""Writes what Pillow makes of a few photos under the image processors of ViT, CLIP and DeiT, as
fixtures for src/io/datasets/preprocessFixtures.test.ts, which checks that Rankscope's decode +
resize + crop gives the same pixels.

    /usr/bin/python3 scripts/make-preprocess-fixtures.py   (needs Pillow: apt-get install python3-pil)

The steps are those of transformers' load_image + slow image processors (ViTImageProcessor,
CLIPImageProcessor, DeiTImageProcessor), written out with Pillow alone so no model download or
torch is needed: ImageOps.exif_transpose, convert('RGB'), Image.resize with the processor's filter
to its size (or shortest edge, the longer side by int() truncation as get_resize_output_image_size
does), then center_crop at ((h - ch) // 2, (w - cw) // 2). Rescale and normalise are arithmetic
on these bytes and are checked elsewhere (src/engine/ops/preprocess.test.ts).

The fixtures are committed; CI does not need Pillow. Outputs are PNG (lossless) of the bytes.
"""
import json
import os
import random

from PIL import Image, ImageDraw, ImageFilter, ImageOps

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'io', 'datasets', 'fixtures', 'preprocess')
BILINEAR, BICUBIC = 2, 3
CONFIGS = {
    # google/vit-base-patch16-224
    'vit': {'size': {'height': 224, 'width': 224}, 'resample': BILINEAR, 'crop': None},
    # openai/clip-vit-base-patch32
    'clip': {'size': {'shortest_edge': 224}, 'resample': BICUBIC, 'crop': {'height': 224, 'width': 224}},
    # facebook/deit-base-distilled-patch16-224
    'deit': {'size': {'height': 256, 'width': 256}, 'resample': BICUBIC, 'crop': {'height': 224, 'width': 224}},
}


def photo(w, h, seed):
    """Something like a photo: smooth colour fields, hard edges, fine texture."""
    rnd = random.Random(seed)
    base = Image.merge('RGB', [Image.effect_noise((max(2, w // 40), max(2, h // 40)), 80).convert('L') for _ in range(3)])
    img = base.resize((w, h), Image.BICUBIC)
    d = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        x1, y1 = x0 + rnd.randrange(5, w // 3), y0 + rnd.randrange(5, h // 3)
        d.ellipse((x0, y0, x1, y1), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    for i in range(0, w, 7):
        d.line((i, 0, i, h // 10), fill=(255, 255, 255) if i % 2 else (0, 0, 0))
    noise = Image.effect_noise((w, h), 20).convert('RGB')
    return Image.blend(img, noise, 0.1).filter(ImageFilter.SMOOTH)


def inputs():
    out = {}
    p = photo(640, 480, 1)
    p.save(os.path.join(HERE, 'landscape.jpg'), quality=90)
    out['landscape.jpg'] = 'RGB JPEG, 640x480'
    # Stored sideways with EXIF orientation 6 (rotate 90° clockwise to view): upright it is 480x640.
    q = photo(480, 640, 2)
    exif = Image.Exif()
    exif[0x0112] = 6
    q.transpose(Image.Transpose.ROTATE_90).save(os.path.join(HERE, 'portrait-exif6.jpg'), quality=90, exif=exif.tobytes())
    out['portrait-exif6.jpg'] = 'RGB JPEG stored 640x480 with EXIF orientation 6 (upright 480x640)'
    photo(500, 375, 3).convert('L').save(os.path.join(HERE, 'grey.jpg'), quality=90)
    out['grey.jpg'] = 'greyscale JPEG, 500x375'
    # Pillow's RGB-to-CMYK leaves K at 0; a real black channel checks the K part of the conversion back.
    c, m, y, _ = photo(400, 300, 4).convert('CMYK').split()
    k = photo(400, 300, 8).convert('L').point(lambda v: v // 2)
    Image.merge('CMYK', (c, m, y, k)).save(os.path.join(HERE, 'cmyk.jpg'), quality=95)
    out['cmyk.jpg'] = 'CMYK JPEG (Adobe), 400x300, with a black channel'
    rgba = photo(320, 240, 5).convert('RGBA')
    rgba.putalpha(Image.linear_gradient('L').resize((320, 240)))
    rgba.save(os.path.join(HERE, 'alpha.png'))
    out['alpha.png'] = 'RGBA PNG, 320x240, alpha gradient (dropped, not composited, as convert("RGB"))'
    photo(300, 260, 6).quantize(64).save(os.path.join(HERE, 'palette.png'))
    out['palette.png'] = 'palette PNG, 64 colours, 300x260'
    photo(2000, 1500, 7).save(os.path.join(HERE, 'large.jpg'), quality=85)
    out['large.jpg'] = 'RGB JPEG, 2000x1500: large enough that the decoder pre-shrinks before Pillow\'s filter'
    return out


def processed(path, cfg):
    img = Image.open(path)
    img = ImageOps.exif_transpose(img)
    img = img.convert('RGB')
    w, h = img.size
    size = cfg['size']
    if 'shortest_edge' in size:
        e = size['shortest_edge']
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = e, int(e * long / short)
        nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    else:
        nw, nh = size['width'], size['height']
    img = img.resize((nw, nh), resample=cfg['resample'])
    if cfg['crop']:
        ch, cw = cfg['crop']['height'], cfg['crop']['width']
        top, left = (nh - ch) // 2, (nw - cw) // 2
        img = img.crop((left, top, left + cw, top + ch))
    return img


def main():
    os.makedirs(HERE, exist_ok=True)
    described = inputs()
    manifest = {'pillow': Image.__version__, 'configs': CONFIGS, 'inputs': described, 'expected': {}}
    for name in described:
        for cid, cfg in CONFIGS.items():
            out = f'{name.rsplit(".", 1)[0]}.{cid}.png'
            processed(os.path.join(HERE, name), cfg).save(os.path.join(HERE, out))
            manifest['expected'][out] = {'input': name, 'config': cid}
    with open(os.path.join(HERE, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write('\n')


if __name__ == '__main__':
    main()
