#!/usr/bin/python3
"""The standard training pipeline, implemented in augment's peers, timed.

    /usr/bin/python3 bench/peers.py DIR --impl torchvision|opencv --workers 1|2 [--seconds S] [--check]

Pipeline (the same as augment's standard bench spec):
  decode -> RandomResizedCrop 224 (scale .08-1, ratio 3/4-4/3) -> horizontal flip p=.5
  -> ColorJitter(brightness .4, contrast .4, saturation .4, hue .1) -> cutout 56x56 (p=.5, fill 0)
  -> float32 CHW normalised with the ImageNet mean/std, written into a 64-image batch.

Every .jpg/.jpeg/.png under DIR is read into memory first (not timed); then whole
passes over the images are timed, at least one, until S seconds have passed.
Prints one JSON line: {"impl", "workers", "images", "seconds", "images_per_second"}.

torchvision: transforms.Compose over PIL images, decoded with
  PIL.Image.open(io.BytesIO(b)).convert('RGB'). --workers 1 runs in this process with
  torch.set_num_threads(1); --workers N uses a DataLoader (batch 64, num_workers=N,
  each worker with 1 torch thread, persistent workers) and counts whole epochs,
  from the creation of the epoch's iterator to its last batch (the worker start-up
  of the first epoch included).
opencv: cv2 + numpy by hand (cv2.setNumThreads(1)); --workers N uses a fork
  multiprocessing.Pool, the images split in chunks of 25, each worker writing its
  results into its own batch in shared memory.
--check runs the pipeline on 8 images and checks the outputs (shape 3x224x224,
  float32, finite, in the normalised range, roughly zero-mean unit-variance),
  then exits; with --check-png FILE it also saves them, de-normalised, as a grid.
"""
import os

# One thread per process everywhere, set before numpy/torch/cv2 load their
# thread pools (also inherited by DataLoader and Pool workers).
for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[_v] = '1'

import argparse
import io
import json
import math
import random
import sys
import time

import numpy as np

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SIZE = 224
CUT = 56
BATCH = 64
EXTS = ('.jpg', '.jpeg', '.png')


def load(d):
    paths = []
    for root, dirs, names in os.walk(d):
        dirs.sort()
        paths += [os.path.join(root, n) for n in sorted(names)
                  if n.lower().endswith(EXTS) and not n.startswith('.')]
    if not paths:
        sys.exit(f'peers.py: no images under {d}')
    out = []
    for p in paths:
        with open(p, 'rb') as f:
            out.append(f.read())
    return out


# --------------------------------------------------------------------------
# torchvision

def tv_transform():
    import torchvision.transforms as T
    return T.Compose([
        T.RandomResizedCrop(SIZE, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
        T.RandomHorizontalFlip(),
        T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
        T.ToTensor(),
        # cutout: one 56x56 square, p=.5, filled with 0 before Normalize
        T.RandomErasing(p=0.5, scale=((CUT * CUT) / (SIZE * SIZE),) * 2, ratio=(1.0, 1.0), value=0),
        T.Normalize(MEAN, STD),
    ])


class TvDataset:
    def __init__(self, blobs):
        self.blobs = blobs
        self.tf = tv_transform()

    def __len__(self):
        return len(self.blobs)

    def __getitem__(self, i):
        from PIL import Image
        img = Image.open(io.BytesIO(self.blobs[i])).convert('RGB')
        return self.tf(img), 0


def _tv_worker_init(_):
    import torch
    torch.set_num_threads(1)


def tv_one(blobs):
    """Yields one 3x224x224 tensor per image (for --check)."""
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    random.seed(0)
    ds = TvDataset(blobs)
    for i in range(len(blobs)):
        yield ds[i][0].numpy()


def run_torchvision(blobs, workers, seconds):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    random.seed(0)
    ds = TvDataset(blobs)
    n = len(blobs)
    images = 0
    if workers == 1:
        batch = torch.empty((BATCH, 3, SIZE, SIZE), dtype=torch.float32)
        t0 = time.perf_counter()
        while True:
            for i in range(n):
                batch[i % BATCH] = ds[i][0]
            images += n
            el = time.perf_counter() - t0
            if el >= seconds:
                return images, el
    from torch.utils.data import DataLoader
    dl = DataLoader(ds, batch_size=BATCH, shuffle=False, num_workers=workers,
                    worker_init_fn=_tv_worker_init, persistent_workers=True)
    t0 = time.perf_counter()
    while True:
        for x, _ in dl:
            images += x.shape[0]
        el = time.perf_counter() - t0
        if el >= seconds:
            return images, el


# --------------------------------------------------------------------------
# OpenCV + numpy, by hand

_MEAN_A = np.array(MEAN, np.float32)
_INVSTD_A = (1.0 / np.array(STD, np.float32)).astype(np.float32)


def rrc_params(rng, w, h, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop.get_params: (x, y, cw, ch)."""
    area = w * h
    lr = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        ta = area * rng.uniform(scale[0], scale[1])
        ar = math.exp(rng.uniform(lr[0], lr[1]))
        cw = int(round(math.sqrt(ta * ar)))
        ch = int(round(math.sqrt(ta / ar)))
        if 0 < cw <= w and 0 < ch <= h:
            return rng.randint(0, w - cw), rng.randint(0, h - ch), cw, ch
    r = w / h
    if r < ratio[0]:
        cw, ch = w, int(round(w / ratio[0]))
    elif r > ratio[1]:
        ch, cw = h, int(round(h * ratio[1]))
    else:
        cw, ch = w, h
    return (w - cw) // 2, (h - ch) // 2, cw, ch


def cv_pipeline(b, rng, out):
    """One image: bytes -> out (3x224x224 float32 view), written in place."""
    import cv2
    bgr = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)
    h, w = bgr.shape[:2]
    x, y, cw, ch = rrc_params(rng, w, h)
    interp = cv2.INTER_AREA if (cw > SIZE and ch > SIZE) else cv2.INTER_LINEAR
    small = cv2.resize(bgr[y:y + ch, x:x + cw], (SIZE, SIZE), interpolation=interp)
    if rng.random() < 0.5:
        small = cv2.flip(small, 1)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    img = rgb.astype(np.float32)
    img *= 1.0 / 255.0

    # ColorJitter: each factor drawn, ops in a random order, clamp after each.
    bf = rng.uniform(0.6, 1.4)
    cf = rng.uniform(0.6, 1.4)
    sf = rng.uniform(0.6, 1.4)
    hf = rng.uniform(-0.1, 0.1)
    order = [0, 1, 2, 3]
    rng.shuffle(order)
    for op in order:
        if op == 0:    # brightness: blend with black
            img *= bf
        elif op == 1:  # contrast: blend with the mean grey level
            m = float(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).mean())
            img *= cf
            img += (1.0 - cf) * m
        elif op == 2:  # saturation: blend with the grey image
            g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            img *= sf
            img += ((1.0 - sf) * g)[:, :, None]
        else:          # hue: rotate H (degrees for float images)
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hch = hsv[:, :, 0]
            hch += hf * 360.0
            hch %= 360.0
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        np.clip(img, 0.0, 1.0, out=img)

    if rng.random() < 0.5:  # cutout, centred on any pixel, clipped (DeVries & Taylor)
        cy, cx = rng.randrange(SIZE), rng.randrange(SIZE)
        img[max(0, cy - CUT // 2):cy + CUT // 2, max(0, cx - CUT // 2):cx + CUT // 2] = 0.0

    img -= _MEAN_A
    img *= _INVSTD_A
    out[...] = img.transpose(2, 0, 1)


def cv_one(blobs):
    import cv2
    cv2.setNumThreads(1)
    rng = random.Random(0)
    for b in blobs:
        out = np.empty((3, SIZE, SIZE), np.float32)
        cv_pipeline(b, rng, out)
        yield out


_G = {}


def _cv_init(blobs, shm_name, workers):
    import cv2
    from multiprocessing import shared_memory
    cv2.setNumThreads(1)
    _G['blobs'] = blobs
    _G['shm'] = shared_memory.SharedMemory(name=shm_name)
    _G['rng'] = random.Random(os.getpid())


def _cv_chunk(args):
    lo, hi, slot = args
    blobs, rng = _G['blobs'], _G['rng']
    batch = np.ndarray((BATCH, 3, SIZE, SIZE), np.float32,
                       buffer=_G['shm'].buf, offset=slot * BATCH * 3 * SIZE * SIZE * 4)
    for i in range(lo, hi):
        cv_pipeline(blobs[i], rng, batch[i % BATCH])
    return hi - lo


def run_opencv(blobs, workers, seconds):
    import cv2
    cv2.setNumThreads(1)
    n = len(blobs)
    images = 0
    if workers == 1:
        rng = random.Random(0)
        batch = np.empty((BATCH, 3, SIZE, SIZE), np.float32)
        t0 = time.perf_counter()
        while True:
            for i in range(n):
                cv_pipeline(blobs[i], rng, batch[i % BATCH])
            images += n
            el = time.perf_counter() - t0
            if el >= seconds:
                return images, el
    import multiprocessing as mp
    from multiprocessing import shared_memory
    ctx = mp.get_context('fork')
    slots = 2 * workers
    shm = shared_memory.SharedMemory(create=True, size=slots * BATCH * 3 * SIZE * SIZE * 4)
    step = 25
    chunks = [(lo, min(n, lo + step), k % slots) for k, lo in enumerate(range(0, n, step))]
    try:
        with ctx.Pool(workers, initializer=_cv_init, initargs=(blobs, shm.name, workers)) as pool:
            pool.map(int, range(workers))  # wait for the workers to be up
            t0 = time.perf_counter()
            while True:
                images += sum(pool.imap_unordered(_cv_chunk, chunks))
                el = time.perf_counter() - t0
                if el >= seconds:
                    return images, el
    finally:
        shm.close()
        shm.unlink()


# --------------------------------------------------------------------------

def check(impl, blobs, png):
    gen = tv_one if impl == 'torchvision' else cv_one
    lo = (0 - max(MEAN)) / min(STD) - 1e-4
    hi = (1 - min(MEAN)) / min(STD) + 1e-4
    outs = []
    for x in gen(blobs[:8]):
        assert x.shape == (3, SIZE, SIZE), x.shape
        assert x.dtype == np.float32, x.dtype
        assert np.isfinite(x).all()
        assert x.min() >= lo and x.max() <= hi, (x.min(), x.max())
        outs.append(x)
    a = np.stack(outs)
    m, s = float(a.mean()), float(a.std())
    print(json.dumps({'impl': impl, 'check': 'ok', 'shape': list(a.shape[1:]), 'dtype': str(a.dtype),
                      'mean': round(m, 3), 'std': round(s, 3),
                      'min': round(float(a.min()), 3), 'max': round(float(a.max()), 3)}))
    if not (-1.0 < m < 1.0 and 0.4 < s < 2.0):
        sys.exit(f'peers.py: {impl}: outputs do not look normalised (mean {m:.3f}, std {s:.3f})')
    if png:
        from PIL import Image
        u8 = [np.clip((x.transpose(1, 2, 0) * STD + MEAN) * 255 + 0.5, 0, 255).astype(np.uint8) for x in outs]
        grid = np.concatenate([np.concatenate(u8[:4], 1), np.concatenate(u8[4:8], 1)], 0)
        Image.fromarray(grid).save(png)


def main():
    ap = argparse.ArgumentParser(description='augment peers: the standard pipeline in torchvision and OpenCV')
    ap.add_argument('dir')
    ap.add_argument('--impl', choices=['torchvision', 'opencv'], required=True)
    ap.add_argument('--workers', type=int, default=1)
    ap.add_argument('--seconds', type=float, default=4.0)
    ap.add_argument('--check', action='store_true', help='check the outputs of 8 images and exit')
    ap.add_argument('--check-png', metavar='FILE', help='with --check: save them as a grid')
    args = ap.parse_args()
    if args.workers < 1:
        sys.exit('peers.py: --workers must be >= 1')
    blobs = load(args.dir)
    if args.check:
        check(args.impl, blobs, args.check_png)
        return
    run = run_torchvision if args.impl == 'torchvision' else run_opencv
    images, el = run(blobs, args.workers, args.seconds)
    print(json.dumps({'impl': args.impl, 'workers': args.workers, 'images': images,
                      'seconds': round(el, 3), 'images_per_second': round(images / el, 2)}))


if __name__ == '__main__':
    main()
