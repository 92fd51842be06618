"""PyTorch's training step of the shape `afcn bench` times, for comparison on the same machine.

Usage: python3 torch_step.py --size 112 --batch 16 --steps 10 --warmup 3 [--method ce|afcn]

ResNet-18 (torchvision's layout, 7 classes, written out here so that torchvision is not needed),
float32 with TF32 off (Burn computes in float32), Adam, random images. `ce` is forward,
cross-entropy, backward and the Adam update; `afcn` is the cost of AFCN's step: the image and
its mirror in one forward of 2N images, cross-entropy on both views plus a consistency term
between the view-1 and the flipped view-2 feature maps (AFCN's extra cost is the second view;
its attention and loss terms are well under a millisecond, docs/performance.md). Prints one
JSON line: images_per_sec counts source images, as `afcn bench` does.
"""

import argparse
import json
import time

import torch
from torch import nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        )
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        features = self.layers(self.stem(x))
        return self.fc(features.mean((2, 3))), features


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--method", choices=["ce", "afcn"], default="ce")
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--classes", type=int, default=7)
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    model = ResNet18(args.classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    labels = torch.arange(args.batch, device=device) % args.classes

    def step():
        if args.method == "ce":
            logits, _ = model(images)
            loss = F.cross_entropy(logits, labels)
        else:
            both = torch.cat([images, images.flip(3)])
            logits, features = model(both)
            n = args.batch
            loss = F.cross_entropy(logits[:n], labels) + F.cross_entropy(logits[n:], labels)
            loss = loss + 3.0 * F.mse_loss(features[:n], features[n:].flip(3))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def timed(steps):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    warmup_seconds = timed(args.warmup)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    seconds = timed(args.steps)
    print(
        json.dumps(
            {
                "framework": "pytorch",
                "torch": torch.__version__,
                "device": torch.cuda.get_device_name() if cuda else "cpu",
                "method": args.method,
                "arch": "resnet18",
                "size": args.size,
                "batch": args.batch,
                "steps": args.steps,
                "warmup": args.warmup,
                "warmup_seconds": warmup_seconds,
                "images_per_sec": args.batch * args.steps / seconds,
                "step_ms": 1000 * seconds / args.steps,
                "max_memory_allocated_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
                "tf32": False,
                "cudnn_benchmark": True,
            }
        )
    )


if __name__ == "__main__":
    main()
