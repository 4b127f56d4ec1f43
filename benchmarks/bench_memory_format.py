"""Training step and evaluation forward pass, contiguous against channels-last, on this machine.

The networks of the default config (width 0.125, VGG16-GAP at output stride 8 and ResNet50 at
16, 8 classes, random weights), one torch thread as the workflow's jobs use: a training step
(forward, cross-entropy, backward, Adam) on a batch of 32 at the crop sizes the default trains
at (112: CUB; 64: Tiny-ImageNet and pretraining), and the evaluation's forward pass
(features_and_logits, no gradient) on a batch of 64 at 112. Best of --repeats runs.
config/config.yaml turns training.channels_last on because of this table.

    .venv/bin/python benchmarks/bench_memory_format.py [--repeats 5]
"""

import argparse

import torch

from bench_methods import best_time
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
            plain, last = (timed(memory_format) for memory_format in FORMATS.values())
            print(f"| {name} | {backbone} | {plain:.3f} | {last:.3f} | {100 * (1 - last / plain):.0f} % |")


if __name__ == "__main__":
    main()
