"""Busy processes that keep cores loaded while something else runs: how
pins are recorded and soak runs are made under the load a shared CI machine
puts on them."""

from __future__ import annotations

import contextlib
import multiprocessing
import time


def spin(stop_at: float) -> None:
    """Keeps one core busy until stop_at (bounded, like every loop here)."""
    while time.monotonic() < stop_at:
        pass


@contextlib.contextmanager
def busy(processes: int, budget: float):
    """`processes` spinning processes for the duration of the block, and
    never longer than `budget` seconds (a daemon that outlives its parent
    still stops by itself)."""
    stop_at = time.monotonic() + budget
    procs = [multiprocessing.Process(target=spin, args=(stop_at,), daemon=True)
             for _ in range(processes)]
    for proc in procs:
        proc.start()
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(timeout=10)
