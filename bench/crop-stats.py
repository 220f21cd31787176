#!/usr/bin/python3
"""How much of each image the standard pipeline's random resized crop needs.

    /usr/bin/python3 bench/crop-stats.py DIR [--copies K] [--augment PATH]

For every JPEG/PNG under DIR and K sample indices each (default 3), asks
`augment apply --print-params` for the random resized crop augment draws
(scale .08-1, ratio 3/4-4/3, size 224, seed 0) and prints the mean of
(crop bottom / image height) and of (crop area / image area). A decoder
must Huffman-decode every row of a baseline JPEG above the crop's bottom
edge, and inverse-transform, upsample and colour-convert the crop: these
two means are what the region decode of bench/compare.sh cannot go below.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

SPEC = 'random_resized_crop 224 scale=0.08:1 ratio=3/4:4/3'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--copies', type=int, default=3)
    ap.add_argument('--augment', default='build/src/cli/augment')
    a = ap.parse_args()
    paths = []
    for root, dirs, names in os.walk(a.dir):
        dirs.sort()
        paths += [os.path.join(root, n) for n in sorted(names) if n.lower().endswith(('.jpg', '.jpeg', '.png'))]
    if not paths:
        sys.exit(f'crop-stats.py: no images under {a.dir}')
    rows = area = 0.0
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'x.png')
        for i, p in enumerate(paths):
            for k in range(a.copies):
                r = subprocess.run([a.augment, 'apply', p, '-p', SPEC, '-o', out, '--print-params',
                                    '--index', str(i * a.copies + k)], capture_output=True, text=True, check=True)
                d = json.loads(r.stdout.strip().splitlines()[-1])
                w, h = d['in'][0], d['in'][1]
                x, y, bw, bh = d['stages'][0]['box']
                rows += (y + bh) / h
                area += bw * bh / (w * h)
                n += 1
    print(f'{n} random resized crops of {len(paths)} images: crop bottom at {100 * rows / n:.1f}% of the height, '
          f'crop area {100 * area / n:.1f}% of the image, on average')


if __name__ == '__main__':
    main()
