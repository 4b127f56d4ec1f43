"""Cost of each CAM method, and of localising its maps, on this machine.

Part 1, images/s per method and backbone: the networks of the default config (width 0.125,
VGG16-GAP at output stride 8 and ResNet50 at 16, 112-pixel crops, 8 classes, random weights),
a batch of 64 random images. "class-map methods" is one forward pass and compute_cams, which
gives CAM, infoCAM, infoCAM+ and the ablations together; each CAM family member is timed alone
with its own forward (and backward) pass (infocam.wsol.family). Best of --repeats runs.

Part 2, maps/s of localisation against threads: the evaluation's scoring of one batch
(infocam.wsol.evaluate.score_method: resize to the canvas, min-max, the box at tau and
MaxBoxAcc/MaxBoxAccV2 at 100 thresholds), 17 methods' maps of 64 images spread over a thread
pool as evaluate_cell spreads them.

    .venv/bin/python benchmarks/bench_methods.py [--width 0.125] [--crop 112] [--repeats 3] [--threads 1 2]
"""

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from infocam.wsol.cam import compute_cams
from infocam.wsol.evaluate import EVALUATORS, EvaluateSettings, score_method
from infocam.wsol.family import FamilyMaps
from infocam.wsol.methods import FAMILY
from infocam.wsol.models import build_model

BACKBONES = {"vgg16": 8, "resnet50": 16}  # output stride, as config/config.yaml
BATCH, CLASSES = 64, 8


def best_time(step, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return min(times)


def method_rates(backbone, width, crop, repeats):
    torch.manual_seed(0)
    model = build_model(backbone, CLASSES, width=width, output_stride=BACKBONES[backbone]).eval()
    images, labels = torch.randn(BATCH, 3, crop, crop), torch.randint(0, CLASSES, (BATCH,))

    @torch.no_grad()
    def class_map_methods():
        features, logits = model.features_and_logits(images)
        compute_cams(features, model.classifier.weight, logits, labels, 2, "full", both_geometries=True)

    rates = {"class-map methods (CAM, infoCAM, infoCAM+, ablations)": BATCH / best_time(class_map_methods, repeats)}
    for name in FAMILY:
        family = FamilyMaps(model, [name])
        runs = 1 if name == "scorecam" else repeats
        rates[name] = BATCH / best_time(lambda: family(images, labels), runs)
    return rates


def localisation_rates(thread_counts, repeats, methods=17):
    rng = np.random.default_rng(0)
    maps = {f"m{i}": rng.random((BATCH, 14, 14)) for i in range(methods)}
    boxes = [(np.array([[40, 50, 150, 180]]), np.zeros((0, 4)))] * BATCH
    settings = EvaluateSettings("bench", region=2, resize=112, crop=112, region_geometry="full")
    rates = {}
    for threads in thread_counts:
        def score_batch():
            # scored as CAM's maps are: the box at tau and MaxBoxAcc/MaxBoxAccV2 at 100 thresholds
            evaluators = {name: [evaluator(settings, "cam") for evaluator in EVALUATORS] for name in maps}
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(lambda name: score_method(maps[name], boxes, evaluators[name]), maps))
        rates[threads] = methods * BATCH / best_time(score_batch, repeats)
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--crop", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"| method | {' | '.join(f'{b} images/s' for b in BACKBONES)} |")
    print("|---|" + "---|" * len(BACKBONES))
    rates = {backbone: method_rates(backbone, args.width, args.crop, args.repeats) for backbone in BACKBONES}
    for method in rates["vgg16"]:
        print(f"| {method} | " + " | ".join(f"{rates[b][method]:.1f}" for b in BACKBONES) + " |")
    print()
    print("| threads | localisation maps/s |")
    print("|---|---|")
    for threads, rate in localisation_rates(args.threads, args.repeats).items():
        print(f"| {threads} | {rate:.0f} |")


if __name__ == "__main__":
    main()
