#!/usr/bin/python3
"""PyTorch end to end on the reference model: ImageFolder + torchvision
transforms + DataLoader workers + training, the peer of `augment train`.

    /usr/bin/python3 bench/train_e2e.py DATA --epochs 2 --workers 1 --threads 2

DATA is a class-per-folder tree of grey PNGs (augment import fashion-mnist).
The pipeline is the same as augment's `crop 28 pad=2; hflip` (RandomCrop with
padding 2, RandomHorizontalFlip, ToTensor), the model is
samples/models/fmnist.model, SGD with momentum 0.9, lr 0.05, batch 128.
Prints one JSON line per epoch with images/s over the whole epoch (loading,
augmentation and training).
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torchvision.datasets as datasets
import torchvision.transforms as T
from PIL import Image


def grey_loader(path):
    with open(path, "rb") as f:
        return Image.open(f).convert("L")


def model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    tf = T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(), T.ToTensor()])
    ds = datasets.ImageFolder(a.data, transform=tf, loader=grey_loader)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers,
                                     drop_last=True, persistent_workers=a.workers > 0)
    m = model()
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    for epoch in range(1, a.epochs + 1):
        m.train()
        t0 = time.time()
        seen = right = 0
        for x, y in dl:
            opt.zero_grad()
            out = m(x)
            loss = lossf(out, y)
            loss.backward()
            opt.step()
            seen += x.shape[0]
            right += (out.argmax(1) == y).sum().item()
        dt = time.time() - t0
        print(json.dumps({"impl": "pytorch", "epoch": epoch, "workers": a.workers, "threads": a.threads,
                          "images": seen, "seconds": round(dt, 3), "images_per_second": round(seen / dt, 1),
                          "train_acc": round(right / seen, 4)}), flush=True)


if __name__ == "__main__":
    main()
