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

import sys
import time

from stdio_smtp import Peer, log_in_step_by_step

PROG = "stdio_imap"


def tagged(peer: Peer, sent: str, timeout: float) -> str:
    """The tagged response to the command line `sent`; untagged lines and
    the command's own chatter are skipped."""
    tag = sent.split(" ", 1)[0]
    deadline = time.monotonic() + timeout
    while True:
        line = peer.line(deadline).decode(errors="replace")
        if line.startswith(tag + " "):
            return line


def main(argv: list[str]) -> int:
    return log_in_step_by_step(
        PROG, __doc__.split("\n\n")[0], argv,
        lambda user, password: [("LOGIN", f"s1 LOGIN {user} {password}"),
                                ("SELECT", "s2 SELECT INBOX")],
        tagged, lambda line: line.split(" ", 2)[1:2] == ["OK"],
        "logged in, INBOX selected", "s3 LOGOUT")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
