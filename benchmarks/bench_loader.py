"""Training images per second delivered to the model: the JPEG path against the decoded-image cache.

Builds a synthetic dataset at the real image sizes in a scratch folder (CUB format: sides
375-500 pixels, Resize 256, crop 224; Tiny-ImageNet format: 64 x 64, no crop), prepares it and
writes its cache, then times one epoch of training batches per loader worker count, after one untimed epoch that starts the persistent workers and warms
the page cache: the uint8 batches the loader delivers (on a GPU, crop 224, flip and normalise
then run on the device), and the same with that augmentation on this CPU
(infocam.wsol.train.to_model_input).

    .venv/bin/python benchmarks/bench_loader.py [--format cub|tiny] [--images-per-class N] [--workers 0 1 2]
                                                [--batch 64]
"""

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from infocam.data.decoded import ResizedImages, write_decoded_cache
from infocam.data.prepare import prepare_dataset
from infocam.data.synthetic import SyntheticSettings, write_synthetic_archive
from infocam.wsol.train import EpochShuffle, TrainSettings, crop_generator, make_loader, to_model_input

SIZES = {"cub": (256, 224), "tiny": (64, 64)}  # (resize, crop) of config/paper.yaml
ARCHIVES = {"cub": "synthetic-cub.tgz", "tiny": "synthetic-tiny.zip"}


def scratch_dataset(folder, fmt, images_per_class):
    archive = folder / ARCHIVES[fmt]
    sizes = {"min_size": 375, "max_size": 500} if fmt == "cub" else {}
    settings = SyntheticSettings(n_classes=8, train_per_class=images_per_class, heldout_per_class=2, seed=0, **sizes)
    md5 = write_synthetic_archive(fmt, archive, settings)
    prepare_dataset(archive, fmt, md5, folder / "prepared")
    started = time.perf_counter()
    write_decoded_cache(folder / "prepared", SIZES[fmt][0], folder / "decoded")
    return folder / "prepared", folder / "decoded", time.perf_counter() - started


def images_per_second(dataset, settings, augment):
    """Images per second over one timed epoch, after an untimed one."""
    loader = make_loader(dataset, settings, torch.device("cpu"), EpochShuffle(len(dataset), settings.seed))
    rates = []
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        crops = crop_generator(settings, epoch)
        started = time.perf_counter()
        for images, _, _ in loader:
            if augment:
                to_model_input(images, torch.device("cpu"), settings, crops)
        rates.append(len(dataset) / (time.perf_counter() - started))
    return rates[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=sorted(SIZES), default="cub")
    parser.add_argument("--images-per-class", type=int, default=64, help="training images per class (8 classes)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="loader worker counts")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    resize, crop = SIZES[args.format]
    base = TrainSettings(backbone="resnet50", adl=False, loss="softmax", seed=0, width=1.0, pretrained=False,
                         adl_drop_rate=0.75, epochs=1, lr=0.01, batch_size=args.batch, lr_step=1, lr_gamma=0.1,
                         momentum=0.9, nesterov=True, weight_decay=1e-4, classifier_lr_mult=10, resize=resize,
                         crop=crop)
    with tempfile.TemporaryDirectory() as scratch:
        prepared, decoded, cache_seconds = scratch_dataset(Path(scratch), args.format, args.images_per_class)
        count = len(ResizedImages(prepared, "train", resize))
        print(f"{args.format}: {count} training images -> {resize}x{resize} -> {crop}x{crop}, batch {args.batch}; "
              f"writing the cache took {cache_seconds:.1f} s ({count / cache_seconds:.0f} images/s with val)")
        print("| workers | JPEG path | decoded cache | JPEG + CPU augmentation | cache + CPU augmentation |")
        print("|---|---|---|---|---|")
        for workers in args.workers:
            settings = replace(base, num_workers=workers)
            rates = [images_per_second(ResizedImages(prepared, "train", resize, source), settings, augment)
                     for augment in (False, True) for source in (None, decoded)]
            print(f"| {workers} | " + " | ".join(f"{rate:.0f}" for rate in rates) + " |", flush=True)


if __name__ == "__main__":
    main()
