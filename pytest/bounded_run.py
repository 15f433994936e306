"""run_bounded: runs a client program that has no deadline of its own for
the whole session, for the configuration-file wrappers (mbsync_client.py,
fetchmail_client.py). Standard library only."""

from __future__ import annotations

import subprocess
import sys


def run_bounded(prog: str, argv: list[str], seconds: float,
                env: dict[str, str] | None = None) -> int:
    """argv's exit status, or 9 (with one line on stderr) when it did not
    finish within `seconds`; then it is killed."""
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, env=env,
                              timeout=seconds).returncode
    except subprocess.TimeoutExpired:
        print(f"{prog}: {argv[0]} did not finish within {seconds:g}s", file=sys.stderr)
        return 9
