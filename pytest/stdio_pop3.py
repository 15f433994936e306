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

import argparse
import sys
import time

from stdio_smtp import Closed, Peer, Timeout, drive

PROG = "stdio_pop3"


def status(peer: Peer, timeout: float) -> str:
    """The next status line ("+OK ..." or "-ERR ..."); the command's own
    chatter is skipped."""
    deadline = time.monotonic() + timeout
    while True:
        line = peer.line(deadline).decode(errors="replace")
        if line.upper().startswith(("+OK", "-ERR")):
            return line


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--user", default="bob")
    p.add_argument("--password", default="secret")
    p.add_argument("command", nargs="+")
    args = p.parse_args(argv)
    steps = [f"USER {args.user}", f"PASS {args.password}", "STAT"]

    def dialogue(peer: Peer) -> int:
        for command in steps:
            peer.send(f"{command}\r\n".encode())
            line = status(peer, args.timeout)
            if not line.upper().startswith("+OK"):
                print(f"{PROG}: {command.split(' ')[0]} answered {line!r}", file=sys.stderr)
                return 1
        print("logged in, STAT answered")
        peer.send(b"QUIT\r\n")
        try:
            status(peer, args.timeout)
        except (Timeout, Closed):
            pass
        return 0

    return drive(PROG, args.command, args.timeout, dialogue)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
