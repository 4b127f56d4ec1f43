"""Training one grid cell: paper optimiser and schedule, best-by-val checkpoint, resumable."""

import json
import csv
import os
import random
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from infocam.device import autocast_context, resolve_device
from infocam.io import CorruptFileError, atomic_path, file_md5, load_torch_file, write_text_atomic
from infocam.preemption import Preempted, signals_as_flag
from infocam.data.decoded import ResizedImages, augment_batch, check_decoded_cache, draw_crops
from infocam.data.images import load_classes
from infocam.data.prepare import check_manifest
from infocam.losses import class_priors, classification_loss
from infocam.wsol.models import build_model, load_all_but_fc

CROP_SEED_OFFSET = 10**6
HISTORY_COLUMNS = ["epoch", "lr", "train_loss", "train_top1", "val_top1", "seconds"]


@dataclass(frozen=True)
class TrainSettings:
    backbone: str
    adl: bool
    loss: str
    seed: int
    width: float
    pretrained: bool
    adl_drop_rate: float
    epochs: int
    lr: float
    batch_size: int
    lr_step: int
    lr_gamma: float
    momentum: float
    nesterov: bool
    weight_decay: float
    classifier_lr_mult: float
    resize: int
    crop: int
    device: str = "cpu"
    threads: int = 1
    num_workers: int = 0
    amp: bool = False
    channels_last: bool = False
    optimizer: str = "sgd"
    init_from: str | None = None  # a checkpoint of the same backbone (pretraining): every weight but fc
    output_stride: int = 16


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(model, settings):
    """The paper's SGD (or Adam), with classifier parameters at lr x classifier_lr_mult.

    Adam is for the offline default: narrow networks trained from scratch in a few hundred
    steps, where the paper's SGD recipe (made for fine-tuning ImageNet weights over 200
    epochs) barely leaves chance level.
    """
    backbone_params, classifier_params = model.parameter_groups()
    groups = [
        {"params": backbone_params, "lr": settings.lr},
        {"params": classifier_params, "lr": settings.lr * settings.classifier_lr_mult},
    ]
    if settings.optimizer == "adam":
        return torch.optim.Adam(groups, lr=settings.lr, weight_decay=settings.weight_decay)
    if settings.optimizer == "sgd":
        return torch.optim.SGD(
            groups,
            lr=settings.lr,
            momentum=settings.momentum,
            nesterov=settings.nesterov,
            weight_decay=settings.weight_decay,
        )
    raise ValueError(f"unknown optimizer '{settings.optimizer}' (expected sgd or adam)")


class EpochShuffle(Sampler):
    """A permutation of the dataset per epoch, drawn from (seed, epoch) alone: the same batches
    with any number of loader workers, after a resume, and from the JPEGs or the cache."""

    def __init__(self, size, seed):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())

    def __len__(self):
        return self.size


def make_loader(dataset, settings, device, sampler=None):
    """Batches of uint8 images; the workers live as long as the loader (one per split per run)."""
    return DataLoader(
        dataset,
        batch_size=settings.batch_size,
        sampler=sampler,
        num_workers=settings.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=settings.num_workers > 0,
    )


def crop_generator(settings, epoch):
    """The random crops and flips of one epoch: their own stream, apart from the shuffle's."""
    return torch.Generator().manual_seed(CROP_SEED_OFFSET + settings.seed * 1000 + epoch)


def to_model_input(images, device, settings, generator=None):
    """uint8 batch -> the network's input on `device`: random crops and flips with a generator
    (training), the centre crop without (validation)."""
    corners, flips = None, None
    if generator is not None:
        corners, flips = draw_crops(len(images), settings.resize, settings.crop, generator)
    images = augment_batch(images.to(device, non_blocking=True), settings.crop, corners, flips)
    if settings.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images


def train_one_epoch(model, loader, optimizer, scaler, loss_fn, device, settings, progress, stop=(), epoch=0):
    """One pass over the training data; raises Preempted between batches once `stop` holds a signal."""
    model.train()
    loader.sampler.set_epoch(epoch)
    crops = crop_generator(settings, epoch)
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels, _ in loader:
        if stop:
            raise Preempted(f"stopped by {signal.Signals(stop[0]).name}")
        images = to_model_input(images, device, settings, crops)
        labels = labels.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with autocast_context(device, settings.amp):
            logits = model(images)
            loss = loss_fn(logits.float(), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total_loss += loss.item() * len(labels)
        correct += (logits.argmax(1) == labels).sum().item()
        seen += len(labels)
        progress.update(1)
    return total_loss / seen, 100.0 * correct / seen


@torch.no_grad()
def top1_accuracy(model, loader, device, settings):
    model.eval()
    correct, seen = 0, 0
    for images, labels, _ in loader:
        images = to_model_input(images, device, settings)
        with autocast_context(device, settings.amp):
            logits = model(images)
        correct += (logits.argmax(1).cpu() == labels).sum().item()
        seen += len(labels)
    return 100.0 * correct / seen


def atomic_save(obj, path):
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def write_history(rows, path):
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def rng_state():
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def restore_rng_state(state):
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def load_resume_state(path, settings):
    """The saved state of an interrupted run with the same settings, or None.

    A resume file that cannot be read is set aside (renamed *.corrupt) so that training
    restarts from epoch 0 instead of failing on it at every rerun.
    """
    if path is None or not Path(path).exists():
        return None
    try:
        state = load_torch_file(path, "resume file")
    except CorruptFileError as err:
        aside = Path(path).with_name(Path(path).name + ".corrupt")
        os.replace(path, aside)
        print(f"{err}; set aside as {aside}, training restarts from epoch 0")
        return None
    if state.get("settings") != asdict(settings):
        print(f"ignoring {path}: it was written with other settings")
        return None
    return state


def train_cell(prepared_dir, checkpoint_path, history_path, settings, resume_path=None, decoded_dir=None,
               snapshots=None):
    """Train one cell; write the best-by-val checkpoint and the per-epoch history.

    decoded_dir: the prepared folder's decoded-image cache (rule decode_images), read instead of
    decoding the JPEGs every epoch; the batches are the same either way. snapshots: (manifest,
    epochs): the checkpoint after each of those epochs is also written, as epoch<N>.pt in the
    folder `epochs` beside the manifest, which lists them at the end (the 2020 protocol chooses
    among them on its own selection split, never by val top-1). The manifest, not the folder, is
    the job's output: a resumed job keeps the snapshots of the epochs before it stopped.
    """
    torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    seed_everything(settings.seed)
    check_manifest(prepared_dir)
    classes = load_classes(prepared_dir)
    if decoded_dir is not None:
        check_decoded_cache(decoded_dir, prepared_dir, settings.resize)
    train_set = ResizedImages(prepared_dir, "train", settings.resize, decoded_dir)
    val_set = ResizedImages(prepared_dir, "val", settings.resize, decoded_dir)
    priors = class_priors(train_set.labels, len(classes))
    loss_fn = classification_loss(settings.loss, priors.to(device))

    model = model_from_settings(asdict(settings), len(classes), pretrained=settings.pretrained).to(device)
    if settings.init_from:
        load_backbone_weights(model, settings.init_from)
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, settings)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=settings.lr_step, gamma=settings.lr_gamma)
    scaler = torch.amp.GradScaler(device.type, enabled=settings.amp and device.type == "cuda")
    run = _Run(model, optimizer, scheduler, scaler, settings, resume_path)
    run.restore()
    if snapshots is not None:
        run.snapshots = (Path(snapshots[0]).parent / "epochs", set(snapshots[1]), classes)

    train_loader = make_loader(train_set, settings, device, EpochShuffle(len(train_set), settings.seed))
    val_loader = make_loader(val_set, settings, device)
    steps = (settings.epochs - run.start_epoch) * -(-len(train_set) // settings.batch_size)
    with signals_as_flag() as stop, tqdm(total=steps, desc=f"train {settings.backbone}", unit="batch",
                                          mininterval=5) as progress:
        for epoch in range(run.start_epoch, settings.epochs):
            run.epoch(epoch, train_loader, val_loader, loss_fn, device, progress, stop)
    if snapshots is not None:
        write_snapshot_manifest(snapshots[0], run.snapshots[0], snapshots[1])
    return _write_best(run, classes, decoded_dir, checkpoint_path, history_path)


def write_snapshot_manifest(manifest, folder, epochs):
    """{epoch: {path, md5}} of the kept checkpoints, as JSON; every listed epoch must be there."""
    listed = {}
    for epoch in sorted(epochs):
        path = Path(folder) / f"epoch{epoch}.pt"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the checkpoint of epoch {epoch} was not kept")
        listed[str(epoch)] = {"path": str(path), "md5": file_md5(path)}
    write_text_atomic(manifest, json.dumps(listed, indent=1) + "\n")


class _Run:
    """The state of one training run: restored from a resume file, advanced an epoch at a time
    (the best-by-val weights kept, the resume file rewritten after every epoch)."""

    def __init__(self, model, optimizer, scheduler, scaler, settings, resume_path):
        self.model, self.optimizer, self.scheduler, self.scaler = model, optimizer, scheduler, scaler
        self.settings, self.resume_path = settings, resume_path
        self.start_epoch, self.best, self.history = 0, {"val_top1": -1.0}, []
        self.snapshots = None  # (folder, epochs to keep, classes)

    def restore(self):
        state = load_resume_state(self.resume_path, self.settings)
        if state is None:
            return
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"])
        self.start_epoch, self.best, self.history = state["epoch"], state["best"], state["history"]
        print(f"resuming from {self.resume_path} after epoch {self.start_epoch}")

    def epoch(self, epoch, train_loader, val_loader, loss_fn, device, progress, stop):
        began = time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]
        try:
            loss, train_top1 = train_one_epoch(self.model, train_loader, self.optimizer, self.scaler, loss_fn, device,
                                               self.settings, progress, stop, epoch)
        except Preempted as stopped:
            raise Preempted(f"{stopped} in epoch {epoch + 1}; {self.resume_path} holds epoch {epoch}:"
                            " run the same command again to continue") from None
        self.scheduler.step()
        val_top1 = top1_accuracy(self.model, val_loader, device, self.settings)
        self.history.append(
            {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": round(loss, 6),
                "train_top1": round(train_top1, 4),
                "val_top1": round(val_top1, 4),
                "seconds": round(time.perf_counter() - began, 3),
            }
        )
        progress.set_postfix(epoch=epoch + 1, loss=f"{loss:.3f}", val_top1=f"{val_top1:.1f}")
        if val_top1 > self.best["val_top1"]:
            self.best = {"val_top1": val_top1, "epoch": epoch + 1, "model": _cpu_state(self.model)}
        if self.snapshots is not None and epoch + 1 in self.snapshots[1]:
            folder, _, classes = self.snapshots
            state = {"val_top1": val_top1, "epoch": epoch + 1, "model": _cpu_state(self.model)}
            atomic_save(checkpoint_record(self, state, classes), folder / f"epoch{epoch + 1}.pt")
        if self.resume_path is not None:
            atomic_save(
                {
                    "settings": asdict(self.settings),
                    "epoch": epoch + 1,
                    "model": self.model.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(),
                    "scaler": self.scaler.state_dict(),
                    "rng": rng_state(),
                    "best": self.best,
                    "history": self.history,
                },
                self.resume_path,
            )


def checkpoint_record(run, state, classes, decoded_dir=None):
    """A checkpoint file's content: the weights and epoch of `state` and what the run started from."""
    settings = run.settings
    return {
        "model": state["model"],
        "epoch": state["epoch"],
        "val_top1": state["val_top1"],
        "classes": classes,
        "settings": asdict(settings),
        "init_md5": file_md5(settings.init_from) if settings.init_from else None,
        "decoded_cache": str(decoded_dir) if decoded_dir is not None else None,
        "imagenet_weights": imagenet_record(run.model),
        "classifier_group": {"lr_mult": settings.classifier_lr_mult,
                             "parameters": run.model.classifier_parameter_names()},
    }


def snapshot_epochs(epochs, kept):
    """`kept` epochs spread evenly over 1..epochs, the last always among them."""
    return sorted({max(1, round(epochs * k / kept)) for k in range(1, kept + 1)})


def _write_best(run, classes, decoded_dir, checkpoint_path, history_path):
    """Write the best-by-val checkpoint and the history; remove the resume file."""
    best = run.best
    checkpoint = checkpoint_record(run, best, classes, decoded_dir)
    write_history(run.history, history_path)
    atomic_save(checkpoint, checkpoint_path)
    if run.resume_path is not None and Path(run.resume_path).exists():
        os.remove(run.resume_path)
    print(f"best val top-1 {best['val_top1']:.2f}% at epoch {best['epoch']}")
    return checkpoint


def imagenet_record(model):
    """The ImageNet weights file the model started from: path, md5 and tensors copied; or None."""
    if model.imagenet_weights is None:
        return None
    return {**model.imagenet_weights, "md5": file_md5(model.imagenet_weights["file"])}


def load_backbone_weights(model, checkpoint_path):
    """Copy every weight but the fc layer's from a train_cell checkpoint of the same backbone and width."""
    state = load_torch_file(checkpoint_path, "pretrained checkpoint")["model"]
    load_all_but_fc(model, state, checkpoint_path, "a checkpoint of this backbone and width")


def _cpu_state(model):
    return {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}


def model_from_settings(settings, num_classes, pretrained=False):
    """The network a cell's settings (a TrainSettings as a dict, as checkpoints record it) describe."""
    return build_model(
        settings["backbone"],
        num_classes,
        width=settings["width"],
        adl=settings["adl"],
        adl_drop_rate=settings["adl_drop_rate"],
        pretrained=pretrained,
        output_stride=settings.get("output_stride", 16),
    )


def load_checkpoint_model(checkpoint_path, device):
    """Rebuild the trained network from a checkpoint written by train_cell, in the memory format
    it was trained in: channels-last convolutions are faster on the CPU too (benchmarks/README.md)."""
    checkpoint = load_torch_file(checkpoint_path)
    model = model_from_settings(checkpoint["settings"], len(checkpoint["classes"]))
    model.load_state_dict(checkpoint["model"])
    if checkpoint["settings"].get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    return model.to(device).eval(), checkpoint
