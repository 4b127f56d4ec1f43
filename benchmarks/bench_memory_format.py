"""Training step and evaluation forward pass, contiguous against channels-last, on this machine.

The networks of the default config (width 0.125, VGG16-GAP at output stride 8 and ResNet50 at
16, 8 classes, random weights), one torch thread as the workflow's jobs use: a training step
(forward, cross-entropy, backward, Adam) on a batch of 32 at the crop sizes the default trains
at (112: CUB; 64: Tiny-ImageNet and pretraining), and the evaluation's forward pass
(features_and_logits, no gradient) on a batch of 64 at 112. Best of --repeats runs.
config/config.yaml turns training.channels_last on because of this table.
Then the digit experiments' networks, as config/config.yaml trains them: LeNet on imbalanced
MNIST (28x28 grey, batch 64) and CUB (32x32 RGB, batch 32) with SGD, DigitGAPNet (width 16) on
28x56 double-digit canvases (batch 64) with Adam; infocam.digits trains both channels-last.

    .venv/bin/python benchmarks/bench_memory_format.py [--repeats 5]
"""

import argparse
from functools import partial

import torch

from bench_methods import best_time
from infocam.digits.common import DigitGAPNet, LeNet
from infocam.wsol.models import build_model

BACKBONES = {"vgg16": 8, "resnet50": 16}  # output stride, as config/config.yaml
FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
CLASSES = 8


def warm_best_time(step, repeats):
    step()  # warm-up: the first call picks the kernels
    return best_time(step, repeats)


def network(backbone, memory_format):
    torch.manual_seed(0)
    model = build_model(backbone, CLASSES, width=0.125, output_stride=BACKBONES[backbone])
    return model.to(memory_format=memory_format)


def training_step_time(backbone, memory_format, crop, repeats):
    model = network(backbone, memory_format).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    images, labels = torch.randn(32, 3, crop, crop), torch.randint(0, CLASSES, (32,))

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()

    return warm_best_time(step, repeats)


def forward_time(backbone, memory_format, repeats):
    model = network(backbone, memory_format).eval()
    images = torch.randn(64, 3, 112, 112)

    @torch.no_grad()
    def step():
        model.features_and_logits(images)

    return warm_best_time(step, repeats)


def digit_step_time(make_model, images, targets, loss, optimizer, memory_format, repeats):
    torch.manual_seed(0)
    model = make_model().to(memory_format=memory_format).train()
    images = images.contiguous(memory_format=memory_format)
    optimizer = optimizer(model.parameters())

    def step():
        optimizer.zero_grad()
        loss(model(images), targets).backward()
        optimizer.step()

    return warm_best_time(step, repeats)


def digit_passes(repeats):
    """{name: seconds per training step for a memory format} for the digit experiments' networks."""
    torch.manual_seed(0)
    sgd = partial(torch.optim.SGD, lr=0.02, momentum=0.9)
    adam = partial(torch.optim.Adam, lr=0.003)
    cross_entropy, bce = torch.nn.functional.cross_entropy, torch.nn.functional.binary_cross_entropy_with_logits
    cases = {
        "LeNet, MNIST 28x28, batch 64": (lambda: LeNet(10), torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,)),
                                         cross_entropy, sgd),
        "LeNet, CUB 32x32 RGB, batch 32": (lambda: LeNet(10, 3, 32), torch.randn(32, 3, 32, 32),
                                           torch.randint(0, 10, (32,)), cross_entropy, sgd),
        "DigitGAPNet, 28x56, batch 64": (lambda: DigitGAPNet(width=16), torch.randn(64, 1, 28, 56),
                                         torch.randint(0, 2, (64, 10)).float(), bce, adam),
    }
    return {name: lambda fmt, case=case: digit_step_time(*case, fmt, repeats) for name, case in cases.items()}


def print_row(name, network_name, timed):
    plain, last = (timed(memory_format) for memory_format in FORMATS.values())
    print(f"| {name} | {network_name} | {plain:.3f} | {last:.3f} | {100 * (1 - last / plain):.0f} % |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| pass | backbone | contiguous s | channels_last s | saved |")
    print("|---|---|---|---|---|")
    for backbone in BACKBONES:
        passes = {f"training step, batch 32 at {crop}": lambda fmt, crop=crop: training_step_time(
            backbone, fmt, crop, args.repeats) for crop in (112, 64)}
        passes["evaluation forward, batch 64 at 112"] = lambda fmt: forward_time(backbone, fmt, args.repeats)
        for name, timed in passes.items():
            print_row(name, backbone, timed)
    for name, timed in digit_passes(args.repeats).items():
        network_name, case = name.split(", ", 1)
        print_row(f"training step, {case}", network_name, timed)


if __name__ == "__main__":
    main()
