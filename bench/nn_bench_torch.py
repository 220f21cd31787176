#!/usr/bin/python3
"""PyTorch's side of bench/nn_bench.py: the reference model
(samples/models/fmnist.model) in torch 1.13, forward + backward on random
batches, compute only. Same protocol as nn_bench --serve: prints "ready ...",
then answers "run K" with "img/s X" until "quit".

    /usr/bin/python3 bench/nn_bench_torch.py --threads T [--batch 128]
        [--mkldnn auto|on|off]

Settings, the fastest fair ones we found: float32, channels-first (NCHW,
the layout nn_bench takes), torch.set_num_threads(T) (intra-op) and one
inter-op thread, gradients set to None rather than zeroed, oneDNN
(mkldnn) convolutions on or off whichever is faster at T threads ("auto"
times both three times, alternating, and keeps the faster by its best
time; the choice is printed). The memory allocator is the environment's:
bench/nn_bench.py runs this twice, with glibc's defaults and with glibc
tuned to keep freed memory (see there).
"""
import argparse
import sys
import time

import torch
import torch.nn as nn


def reference_model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--mkldnn", choices=["auto", "on", "off"], default="auto")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    model = reference_model().train()
    x = torch.randn(a.batch, 1, 28, 28)
    y = torch.randint(0, 10, (a.batch,))
    lossf = nn.CrossEntropyLoss()

    def run(k):
        t0 = time.perf_counter()
        for _ in range(k):
            for p in model.parameters():
                p.grad = None
            lossf(model(x), y).backward()
        return a.batch * k / (time.perf_counter() - t0)

    choice = a.mkldnn
    if choice == "auto":
        rates = {}
        for mode in ("on", "off") * 3:
            torch.backends.mkldnn.enabled = mode == "on"
            run(2)
            rates[mode] = max(rates.get(mode, 0), run(5))
        choice = max(rates, key=rates.get)
    torch.backends.mkldnn.enabled = choice == "on"
    run(3)
    print("ready torch %s threads=%d mkldnn=%s" % (torch.__version__, torch.get_num_threads(),
                                                   choice), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if len(parts) == 2 and parts[0] == "run":
            print("img/s %.1f" % run(int(parts[1])), flush=True)
        else:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
