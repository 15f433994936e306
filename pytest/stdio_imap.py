#!/usr/bin/python3
"""stdio_imap: logs in through a command that speaks IMAP on its standard
input and output once TLS is up (openssl s_client -starttls imap -quiet),
one command at a time, waiting for each tagged response.

    stdio_imap.py --timeout S [--user U --password P] -- COMMAND...

After the command's own STARTTLS dialog it sends LOGIN, SELECT INBOX and
LOGOUT, each after the tagged response to the one before, and stops at the
first that is not OK. Exit status: 0 when INBOX was opened, 1 when a
response refused a command or the command ended first, 9 when a response
did not come within S seconds (the command is killed). Standard library
only.
"""

from __future__ import annotations

import argparse
import sys
import time

from stdio_smtp import Closed, Peer, Timeout, drive

PROG = "stdio_imap"


def tagged(peer: Peer, tag: str, timeout: float) -> str:
    """The status of the tagged response to `tag`; untagged lines and the
    command's own chatter are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        line = peer.line(deadline).decode(errors="replace")
        if line.startswith(tag + " "):
            return line


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--user", default="bob")
    p.add_argument("--password", default="secret")
    p.add_argument("command", nargs="+")
    args = p.parse_args(argv)
    steps = [("s1", f"LOGIN {args.user} {args.password}"), ("s2", "SELECT INBOX")]

    def dialogue(peer: Peer) -> int:
        for tag, command in steps:
            peer.send(f"{tag} {command}\r\n".encode())
            line = tagged(peer, tag, args.timeout)
            if line.split(" ", 2)[1:2] != ["OK"]:
                print(f"{PROG}: {command.split(' ')[0]} answered {line!r}", file=sys.stderr)
                return 1
        print("logged in, INBOX selected")
        peer.send(b"s3 LOGOUT\r\n")
        try:
            tagged(peer, "s3", args.timeout)
        except (Timeout, Closed):
            pass
        return 0

    return drive(PROG, args.command, args.timeout, dialogue)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
