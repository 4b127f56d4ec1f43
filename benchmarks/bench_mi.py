"""Cost of the MI experiment: measured pieces, and the predicted time of a whole config.

Measures, on one thread: seconds per training epoch of every estimator in every setting (a short
training run at the largest dimension, after a warm-up run), the Monte Carlo true MI, and the
start-up of one `infocam` process. From these it predicts the CPU time of the `mi_estimate` jobs
of each config given (default: config/config.yaml and config/paper.yaml) and their wall time
when Snakemake runs them `--cores` at a time. The CPU may be shared with other work: the numbers are then
pessimistic. Writes benchmarks/out/mi.tsv and prints it.

    .venv/bin/python benchmarks/bench_mi.py [--epochs N] [--cores N] [CONFIG ...]
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from infocam.mi.experiment import MiTraining, make_data, train_estimator, true_mutual_information

REPO = Path(__file__).resolve().parents[1]


def seconds_per_epoch(mi, counts, name, epochs):
    training = MiTraining(hidden=tuple(mi["hidden"]), epochs=epochs, batch_size=mi["batch_size"], lr=mi["lr"],
                          mine_rate=mi["mine_rate"])
    train, _ = make_data(counts, mi["offsets"], max(mi["dims"]), mi["test_fraction"], seed=0)
    start = time.perf_counter()
    train_estimator(name, train, len(counts), training, seed=0)
    return (time.perf_counter() - start) / epochs


def monte_carlo_seconds(mi, counts):
    priors = np.asarray(counts, dtype=np.float64) / sum(counts)
    start = time.perf_counter()
    true_mutual_information(priors, mi["offsets"], max(mi["dims"]), mi["mc_samples"], mi["mc_seed"])
    return time.perf_counter() - start


def startup_seconds():
    """A job's fixed cost: starting Python and importing what `infocam mi-estimate` loads."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import infocam.cli, infocam.mi.experiment"], check=True)
    return time.perf_counter() - start


def predict(mi, per_epoch, mc_seconds, startup, cores):
    """CPU seconds per job and the wall time of running the jobs `cores` at a time (longest first)."""
    jobs = []
    for setting in mi["settings"]:
        train = sum(per_epoch[setting, name] for name in mi["estimators"]) * mi["epochs"] * len(mi["seeds"])
        jobs += [startup + mc_seconds[setting] + train] * len(mi["dims"])
    finish = [0.0] * cores
    for job in sorted(jobs, reverse=True):
        finish[finish.index(min(finish))] += job
    return sum(jobs), max(finish)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", type=Path,
                        default=[REPO / "config" / "config.yaml", REPO / "config" / "paper.yaml"])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each timed training run")
    parser.add_argument("--cores", type=int, default=2, help="jobs Snakemake runs at once")
    args = parser.parse_args()
    torch.set_num_threads(1)
    configs = {path: yaml.safe_load(path.read_text())["mi"] for path in args.configs}
    reference = next(iter(configs.values()))
    first_counts = next(iter(reference["settings"].values()))
    seconds_per_epoch(reference, first_counts, "softmax", 1)  # warm-up: the first run pays one-off costs
    per_epoch = {(setting, name): seconds_per_epoch(reference, counts, name, args.epochs)
                 for setting, counts in reference["settings"].items() for name in reference["estimators"]}
    mc_seconds = {setting: monte_carlo_seconds(reference, counts) for setting, counts in reference["settings"].items()}
    startup = startup_seconds()

    lines = ["what\tseconds"]
    lines += [f"epoch {setting} {name}\t{seconds:.3f}" for (setting, name), seconds in per_epoch.items()]
    lines += [f"monte carlo {setting} ({reference['mc_samples']} samples)\t{seconds:.2f}"
              for setting, seconds in mc_seconds.items()]
    lines.append(f"process start-up\t{startup:.2f}")
    for path, mi in configs.items():
        cpu, wall = predict(mi, per_epoch, mc_seconds, startup, args.cores)
        name = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        lines.append(f"{name}: mi_estimate jobs, CPU ({mi['epochs']} epochs)\t{cpu:.0f}")
        lines.append(f"{name}: mi_estimate jobs, wall on {args.cores} cores\t{wall:.0f}")
    out = REPO / "benchmarks" / "out" / "mi.tsv"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
