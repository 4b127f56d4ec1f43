"""The GPU check (benchmarks/gpu_check.sh): training step rates and loader rates on one CUDA GPU.

1. Training steps per second of full-width VGG16-GAP and ResNet50 (200 classes) at the paper's
   input sizes and batch sizes (config/paper.yaml: CUB 224 px, VGG16 30 and ResNet50 128;
   Tiny-ImageNet 64 px, 1280 and 640), SGD with the x10 group, AMP (float16) and channels_last,
   on random data already on the GPU: the rate the model can consume, in images/s.
2. The loader's rate on synthetic CUB-format data at the real sizes (375-500 px, Resize 256,
   crop 224 on the GPU), with the decoded-image cache and from the JPEGs, 8 workers, pinned memory.
3. Whether the loader keeps up: its rate against each CUB-format step rate.

    .venv/bin/python benchmarks/gpu_check.py [--steps 20] [--images-per-class 64]
"""

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from infocam.data.decoded import ResizedImages
from infocam.wsol.models import build_model
from infocam.wsol.train import (EpochShuffle, TrainSettings, crop_generator, make_loader, make_optimizer,
                                to_model_input)

from bench_loader import scratch_dataset  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

PAPER_CELLS = [  # (dataset, backbone, input size, batch size) from config/paper.yaml
    ("cub", "vgg16", 224, 30), ("cub", "resnet50", 224, 128),
    ("tiny", "vgg16", 64, 1280), ("tiny", "resnet50", 64, 640),
]
SETTINGS = TrainSettings(backbone="resnet50", adl=False, loss="softmax", seed=0, width=1.0, pretrained=False,
                         adl_drop_rate=0.75, epochs=1, lr=0.01, batch_size=128, lr_step=60, lr_gamma=0.1,
                         momentum=0.9, nesterov=True, weight_decay=1e-4, classifier_lr_mult=10, resize=256, crop=224,
                         device="cuda", amp=True, channels_last=True, num_workers=8)


def step_rate(backbone, size, batch, steps):
    """Training images/s of one network on random GPU data, after 5 warm-up steps."""
    device = torch.device("cuda")
    model = build_model(backbone, 200).to(device).to(memory_format=torch.channels_last).train()
    optimizer = make_optimizer(model, replace(SETTINGS, backbone=backbone))
    scaler = torch.amp.GradScaler("cuda")
    images = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 200, (batch,), device=device)
    for step in range(5 + steps):
        if step == 5:
            torch.cuda.synchronize()
            started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16):
            loss = torch.nn.functional.cross_entropy(model(images).float(), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - started)


def loader_rate(prepared, decoded, batch):
    """Images/s of training batches on the GPU (crop, flip, normalise there), second of two epochs."""
    device = torch.device("cuda")
    settings = replace(SETTINGS, batch_size=batch)
    dataset = ResizedImages(prepared, "train", settings.resize, decoded)
    loader = make_loader(dataset, settings, device, EpochShuffle(len(dataset), settings.seed))
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        crops = crop_generator(settings, epoch)
        torch.cuda.synchronize()
        started = time.perf_counter()
        for images, _, _ in loader:
            to_model_input(images, device, settings, crops)
        torch.cuda.synchronize()
    return len(dataset) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per network")
    parser.add_argument("--images-per-class", type=int, default=64, help="loader data: 8 classes of this many")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device is visible (torch.cuda.is_available() is False)")
    torch.backends.cudnn.benchmark = True
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, {os.cpu_count()} CPU cores", flush=True)
    print("| dataset | network | input | batch | training images/s (AMP, channels_last) |")
    print("|---|---|---|---|---|")
    rates = {}
    for dataset, backbone, size, batch in PAPER_CELLS:
        rates[dataset, backbone] = step_rate(backbone, size, batch, args.steps)
        print(f"| {dataset} | {backbone} | {size} | {batch} | {rates[dataset, backbone]:.0f} |", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        prepared, decoded, seconds = scratch_dataset(Path(scratch), "cub", args.images_per_class)
        print(f"decoded-image cache written in {seconds:.1f} s", flush=True)
        for name, source in (("decoded cache", decoded), ("JPEG path", None)):
            rate = loader_rate(prepared, source, batch=128)
            verdicts = ", ".join(f"{backbone} {'keeps up' if rate >= rates['cub', backbone] else 'GPU waits'}"
                                 for backbone in ("vgg16", "resnet50"))
            print(f"loader, {name}, 8 workers: {rate:.0f} images/s on the GPU; CUB-format {verdicts}", flush=True)


if __name__ == "__main__":
    main()
