"""Stopping long work cleanly when a scheduler asks: signals become a flag checked between steps."""

import signal
from contextlib import contextmanager

# SLURM sends SIGUSR1 (sbatch --signal) or SIGTERM before it kills or preempts a job; Ctrl-C in a
# terminal sends SIGINT. Each stops the work the same way: state saved, exit status 75.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)
PREEMPTED_EXIT_CODE = 75  # EX_TEMPFAIL: try again later


class Preempted(Exception):
    """Work stopped on a signal after saving what a rerun needs to continue."""


@contextmanager
def signals_as_flag(signals=STOP_SIGNALS):
    """Record the given signals in a list instead of dying; restore the old handlers after."""
    received = []
    previous = {number: signal.signal(number, lambda number, frame: received.append(number)) for number in signals}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
