#!/usr/bin/python3
"""stdio_pop3: logs in through a command that speaks POP3 on its standard
input and output once TLS is up (openssl s_client -starttls pop3 -quiet),
one command at a time, waiting for each status line.

    stdio_pop3.py --timeout S [--user U --password P] -- COMMAND...

After the command's own STLS dialog it sends USER, PASS and STAT, each
after the answer to the one before, and stops at the first that is not
+OK; then QUIT. Exit status: 0 when STAT was answered +OK, 1 when an answer
refused a command or the command ended first, 9 when an answer did not come
within S seconds (the command is killed). Standard library only.
"""

from __future__ import annotations

import sys
import time

from stdio_smtp import Peer, log_in_step_by_step

PROG = "stdio_pop3"


def status(peer: Peer, sent: str, timeout: float) -> str:
    """The next status line ("+OK ..." or "-ERR ...") after `sent`; the
    command's own chatter is skipped."""
    deadline = time.monotonic() + timeout
    while True:
        line = peer.line(deadline).decode(errors="replace")
        if line.upper().startswith(("+OK", "-ERR")):
            return line


def main(argv: list[str]) -> int:
    return log_in_step_by_step(
        PROG, __doc__.split("\n\n")[0], argv,
        lambda user, password: [("USER", f"USER {user}"), ("PASS", f"PASS {password}"),
                                ("STAT", "STAT")],
        status, lambda line: line.upper().startswith("+OK"),
        "logged in, STAT answered", "QUIT")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
