#!/usr/bin/python3
"""Make a deterministic, ImageNet-like JPEG corpus from samples/images.

    /usr/bin/python3 bench/make-corpus.py OUT [--n 400] [--seed 0] [--src samples/images]
    /usr/bin/python3 bench/make-corpus.py OUT --describe     # the same line for an existing corpus

Each output k picks (from random.Random(seed)) one source photo, a crop box of
30-100 % of its area with aspect 3/4..4/3 (landscape 4 times in 5, like
ImageNet), and a rescale that makes the short side uniform in [350, 500]; the
result averages about 480x435 pixels (ImageNet's train set: 481x433). It is
saved as baseline JPEG quality 90, 4:2:0, without optimised Huffman tables, in
OUT/<class>/<k>.jpg, the class being the source photo's folder. The same seed
gives a byte-identical corpus (PIL's encoder is deterministic); the script
prints the count, the mean size, the bits per pixel and a SHA-256 of the whole
corpus so that this can be checked.

The corpus is written to OUT.tmp and renamed to OUT when complete, so a
present OUT is always a whole corpus.
"""
import argparse
import hashlib
import io
import math
import os
import random
import shutil
import sys

from PIL import Image, ImageOps

EXTS = ('.png', '.jpg', '.jpeg')


def sources(src):
    out = []
    for cls in sorted(os.listdir(src)):
        d = os.path.join(src, cls)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.lower().endswith(EXTS):
                with Image.open(os.path.join(d, name)) as im:
                    im = ImageOps.exif_transpose(im).convert('RGB')
                    im.load()
                out.append((cls, name, im))
    if not out:
        sys.exit(f'make-corpus: no images under {src}')
    return out


def crop_box(rng, w, h):
    """A box of 30-100 % of the area, aspect long/short log-uniform in
    [1, 4/3], landscape with probability 0.8. Retries until it fits, then
    shrinks the area."""
    landscape = rng.random() < 0.8
    r = math.exp(rng.uniform(0.0, math.log(4 / 3)))
    if not landscape:
        r = 1 / r
    a = rng.uniform(0.3, 1.0)
    for _ in range(100):
        cw = int(round(math.sqrt(a * w * h * r)))
        ch = int(round(math.sqrt(a * w * h / r)))
        if cw <= w and ch <= h:
            break
        a *= 0.95
    cw, ch = max(1, min(cw, w)), max(1, min(ch, h))
    x = rng.randint(0, w - cw)
    y = rng.randint(0, h - ch)
    return (x, y, x + cw, y + ch)


def describe(out):
    """Prints the summary line of an existing corpus (same digest as when made)."""
    n = total_px = total_bytes = sum_w = sum_h = 0
    digest = hashlib.sha256()
    for cls in sorted(os.listdir(out)):
        d = os.path.join(out, cls)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith('.jpg'):
                continue
            with open(os.path.join(d, name), 'rb') as f:
                data = f.read()
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
            digest.update(f'{cls}/{name}'.encode() + b'\0' + data)
            n += 1
            total_px += w * h
            total_bytes += len(data)
            sum_w += w
            sum_h += h
    report(out, n, sum_w, sum_h, total_bytes, total_px, digest)


def report(out, n, sum_w, sum_h, total_bytes, total_px, digest):
    if n == 0:
        sys.exit(f'make-corpus: no images in {out}')
    print(f'{n} images in {out}: mean {sum_w / n:.0f}x{sum_h / n:.0f}, '
          f'{total_bytes / n / 1024:.1f} KiB/image, {8 * total_bytes / total_px:.2f} bits/pixel, '
          f'sha256 {digest.hexdigest()[:16]}')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('out')
    ap.add_argument('--n', type=int, default=400)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--src', default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  '..', 'samples', 'images'))
    ap.add_argument('--quality', type=int, default=90)
    ap.add_argument('--describe', action='store_true', help='describe an existing corpus, make nothing')
    args = ap.parse_args()
    if args.describe:
        describe(args.out.rstrip('/'))
        return

    src = sources(args.src)
    rng = random.Random(args.seed)
    out = args.out.rstrip('/')
    tmp = out + '.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    for cls in sorted({c for c, _, _ in src}):
        os.makedirs(os.path.join(tmp, cls))

    width = len(str(args.n - 1))
    for k in range(args.n):
        cls, _, im = src[rng.randrange(len(src))]
        box = crop_box(rng, im.width, im.height)
        cw, ch = box[2] - box[0], box[3] - box[1]
        short = rng.uniform(350, 500)
        s = short / min(cw, ch)
        ow, oh = max(1, int(round(cw * s))), max(1, int(round(ch * s)))
        img = im.resize((ow, oh), Image.LANCZOS, box=box)
        buf = io.BytesIO()
        img.save(buf, 'JPEG', quality=args.quality, subsampling=2, optimize=False)
        data = buf.getvalue()
        rel = f'{cls}/{k:0{width}d}.jpg'
        with open(os.path.join(tmp, rel), 'wb') as f:
            f.write(data)

    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    describe(out)  # re-read, so that the digest is the one --describe gives


if __name__ == '__main__':
    main()
