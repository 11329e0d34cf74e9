"""Runs transformers' own image processors (ViT, CLIP, DeiT) on the preprocessing fixtures and
writes their pixel_values as float32, for the opt-in check in
src/io/datasets/transformersProcessors.test.ts (run with RANKSCOPE_PYTHON=/path/to/python, a Python
with transformers, Pillow and numpy).

    python scripts/transformers_processors.py <fixtures dir> <out dir>
"""
import json
import os
import sys

import numpy as np
from transformers import CLIPImageProcessor, DeiTImageProcessor, ViTImageProcessor
from transformers.image_utils import load_image

fixtures, out = sys.argv[1], sys.argv[2]
manifest = json.load(open(os.path.join(fixtures, 'manifest.json')))
kinds = {'vit': ViTImageProcessor, 'clip': CLIPImageProcessor, 'deit': DeiTImageProcessor}
for name, cfg in manifest['configs'].items():
    kwargs = {'size': cfg['size'], 'resample': cfg['resample'], 'do_center_crop': cfg['crop'] is not None}
    if cfg['crop']:
        kwargs['crop_size'] = cfg['crop']
    processor = kinds[name](**kwargs)
    for image in manifest['inputs']:
        # load_image applies EXIF orientation and converts to RGB, as a person's pipeline would.
        pixels = processor(load_image(os.path.join(fixtures, image)), return_tensors='np')['pixel_values'][0]
        np.asarray(pixels, dtype='<f4').tofile(os.path.join(out, f'{image}.{name}.f32'))
        meta = {'shape': list(pixels.shape), 'mean': list(processor.image_mean), 'std': list(processor.image_std)}
        json.dump(meta, open(os.path.join(out, f'{image}.{name}.json'), 'w'))
