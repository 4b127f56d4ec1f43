"""Where training and evaluation run: the device a config names, mixed precision, the CUDA check."""

import socket

import torch


def cuda_problem():
    """Why device 'cuda' cannot be used here (naming the host), or None."""
    if torch.cuda.is_available():
        return None
    return f"'cuda' requested but no CUDA device is visible on {socket.gethostname()} (set device: cpu or auto)"


def resolve_device(name):
    """The torch device of a config's `device`: cpu, cuda, or auto (cuda where one is visible)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and cuda_problem():
        raise ValueError(f"device {cuda_problem()}")
    return torch.device(name)


def autocast_context(device, enabled):
    """Mixed precision when `enabled`: float16 on CUDA, bfloat16 on the CPU."""
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=enabled)
