#!/usr/bin/python3
"""Write tests/fixtures/nn/fmnist-parity.bin: PyTorch's view of the
reference model (samples/models/fmnist.model) on one fixed batch, for the
parity test in tests/test_nn_model.c. Run with Debian's python3-torch:

    /usr/bin/python3 tests/gen/make-nn-fixtures.py

Both sides start from the same weights without shipping them: tensor t of
the model's table is filled from draw i = 1, 2, ... of
aug_rng_stream(SEED_INIT, 0, t, 0) (SplitMix64, reimplemented below
exactly as src/core/rng.c has it), u = (x >> 11) * 2^-53, as

    weight  sqrt(6 / fan_in) * (2u - 1)
    bias    0.1 * (2u - 1)
    gamma   1 + 0.25 * (2u - 1)
    beta    0.1 * (2u - 1)

computed in double and rounded to float32. Dropout masks are rebuilt the
same way from the model's stream (see src/nn/dropout.c), so the two runs
drop the same units. PyTorch computes in float64 from those float32
values: the fixture is the exact answer and the test measures our float32
error alone.

Contents: the input and labels; the first training step's logits, loss
(label smoothing 0.1) and every parameter gradient; the BatchNorm running
statistics after three SGD steps (lr 0.1) on the batch, and the
evaluation-mode logits after them. The gradient of the 128 x 3136 linear
weight would be 1.6 MB, so it is stored as its two factors, the layer's
output gradient (8 x 128) and input (8 x 3136): torch's weight gradient is
exactly their product, which the script asserts before writing.

Format: b"AUGNNFX1", then records until the end: u32 name length, name,
u32 type (0 float32, 1 int32), u32 ndim, u32 dims[ndim], the data; all
little-endian.
"""
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
SEED_INIT = 1234       # weights
SEED_DROP = 2024       # aug_model_set_rng(m, SEED_DROP, 0)
DROPOUT_LAYER = 12     # index of `dropout` in fmnist.model
P = 0.5
N = 8
SMOOTHING = 0.1
LR = 0.1
STEPS = 3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "nn", "fmnist-parity.bin")


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def stream_key(seed, epoch, index, stage):
    k = mix64((seed + GAMMA) & MASK)
    k = mix64(k ^ ((epoch + 0x632BE59BD9B4E019) & MASK))
    k = mix64(k ^ ((index + 0x8CB92BA72F3D8DD7) & MASK))
    k = mix64(k ^ ((stage + 0x4F1BBCDCBFA53E0B) & MASK))
    return k


def mix64_np(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniforms(key, first, count):
    """Draws first+1 .. first+count of a stream, as doubles in [0, 1)."""
    with np.errstate(over="ignore"):
        ctr = np.arange(first + 1, first + count + 1, dtype=np.uint64)
        x = mix64_np(np.uint64(key) + ctr * np.uint64(GAMMA))
    return (x >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


# The reference model's parameter table, in aug_model_tensor() order.
TABLE = [
    ("0.conv.weight", "weight", (32, 1, 3, 3)),
    ("1.bn.gamma", "gamma", (32,)),
    ("1.bn.beta", "beta", (32,)),
    ("4.conv.weight", "weight", (64, 32, 3, 3)),
    ("5.bn.gamma", "gamma", (64,)),
    ("5.bn.beta", "beta", (64,)),
    ("9.linear.weight", "weight", (128, 3136)),
    ("10.bn.gamma", "gamma", (128,)),
    ("10.bn.beta", "beta", (128,)),
    ("13.linear.weight", "weight", (10, 128)),
    ("13.linear.bias", "bias", (10,)),
]


def init_tensor(t, kind, shape):
    count = int(np.prod(shape))
    u = uniforms(stream_key(SEED_INIT, 0, t, 0), 0, count)
    if kind == "weight":
        v = math.sqrt(6.0 / (count // shape[0])) * (2 * u - 1)
    elif kind == "bias":
        v = 0.1 * (2 * u - 1)
    elif kind == "gamma":
        v = 1 + 0.25 * (2 * u - 1)
    else:
        v = 0.1 * (2 * u - 1)
    return v.astype(np.float32).reshape(shape)


def dropout_mask(step):
    rows = []
    for j in range(N):
        u = uniforms(stream_key(SEED_DROP, step, DROPOUT_LAYER, j), 0, 128)
        rows.append(u < 1.0 - P)
    return torch.tensor(np.array(rows), dtype=torch.float64)


class Ref(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(32)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(64)
        self.fc1 = torch.nn.Linear(3136, 128, bias=False)
        self.bn3 = torch.nn.BatchNorm1d(128)
        self.fc2 = torch.nn.Linear(128, 10)

    def params(self):
        return [self.conv1.weight, self.bn1.weight, self.bn1.bias, self.conv2.weight,
                self.bn2.weight, self.bn2.bias, self.fc1.weight, self.bn3.weight,
                self.bn3.bias, self.fc2.weight, self.fc2.bias]

    def forward(self, x, mask):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.max_pool2d(F.relu(self.bn2(self.conv2(h))), 2)
        self.fc1_in = torch.flatten(h, 1)
        self.fc1_out = self.fc1(self.fc1_in)
        if self.fc1_out.requires_grad:
            self.fc1_out.retain_grad()
        h = F.relu(self.bn3(self.fc1_out))
        if self.training:
            h = h * mask / (1 - P)
        return self.fc2(h)


def record(f, name, arr):
    arr = np.ascontiguousarray(arr)
    if arr.dtype.kind == "f":
        arr, kind = arr.astype("<f4"), 0
    else:
        arr, kind = arr.astype("<i4"), 1
    nb = name.encode()
    f.write(struct.pack("<I", len(nb)) + nb)
    f.write(struct.pack("<II", kind, arr.ndim))
    f.write(struct.pack("<%dI" % arr.ndim, *arr.shape))
    f.write(arr.tobytes())


def main():
    torch.manual_seed(0)
    model = Ref().double()
    with torch.no_grad():
        for t, ((name, kind, shape), p) in enumerate(zip(TABLE, model.params())):
            assert tuple(p.shape) == shape, name
            p.copy_(torch.from_numpy(init_tensor(t, kind, shape).astype(np.float64)))

    # A fixed batch: smooth blobs plus noise, roughly like normalised images.
    g = np.random.default_rng(5)
    yy, xx = np.mgrid[0:28, 0:28]
    imgs = []
    for _ in range(N):
        cy, cx, r = g.uniform(8, 20), g.uniform(8, 20), g.uniform(4, 9)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        imgs.append(2 * blob - 0.5 + 0.3 * g.standard_normal((28, 28)))
    x32 = np.array(imgs, dtype=np.float32).reshape(N, 1, 28, 28)
    labels = g.integers(0, 10, N).astype(np.int32)
    x = torch.from_numpy(x32.astype(np.float64))
    y = torch.from_numpy(labels.astype(np.int64))
    lossf = torch.nn.CrossEntropyLoss(label_smoothing=SMOOTHING)

    out = {}
    model.train()
    for step in range(STEPS):
        for p in model.params():
            p.grad = None
        logits = model(x, dropout_mask(step))
        loss = lossf(logits, y)
        loss.backward()
        if step == 0:
            out["logits"] = logits.detach().numpy()
            out["loss"] = np.array([loss.item()])
            for (name, _, _), p in zip(TABLE, model.params()):
                if name == "9.linear.weight":
                    dy, xin = model.fc1_out.grad, model.fc1_in.detach()
                    assert torch.allclose(dy.t() @ xin, p.grad, rtol=0, atol=1e-12)
                    out["grad.9.linear.weight.dout"] = dy.numpy()
                    out["grad.9.linear.weight.in"] = xin.numpy()
                else:
                    out["grad." + name] = p.grad.numpy()
        out["loss.step%d" % step] = np.array([loss.item()])
        with torch.no_grad():
            for p in model.params():
                p -= LR * p.grad
    for i, bn in ((1, model.bn1), (5, model.bn2), (10, model.bn3)):
        out["stats.%d.bn.running_mean" % i] = bn.running_mean.numpy()
        out["stats.%d.bn.running_var" % i] = bn.running_var.numpy()
    model.eval()
    with torch.no_grad():
        out["eval_logits"] = model(x, None).numpy()

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tmp = OUT + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"AUGNNFX1")
        record(f, "meta", np.array([N, SEED_INIT, SEED_DROP, STEPS], dtype=np.int32))
        record(f, "input", x32)
        record(f, "labels", labels)
        for t, (name, kind, shape) in enumerate(TABLE):
            # the first values, so a drifted init formula is caught by name
            record(f, "init." + name, init_tensor(t, kind, shape).reshape(-1)[:16])
        for k, v in out.items():
            record(f, k, v)
    os.replace(tmp, OUT)
    print("%s: %d bytes, torch %s, loss %.6f" % (OUT, os.path.getsize(OUT), torch.__version__,
                                                 out["loss"][0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
