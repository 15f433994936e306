"""What a terminal shows of `openssl s_client -starttls smtp -crlf` when a
person types a session into it: s_client runs on a pseudo-terminal, so the
typed lines are echoed where the person saw them, and each line is typed
only after the server's answer to the one before has been shown (message
lines go together, answered once at their "."). Every wait has a deadline.

Standard library only; runs under /usr/bin/python3.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

REPLY_END = re.compile(rb"^\d{3} ", re.M)  # the last line of a reply


class Terminal:
    def __init__(self, argv: list[str], timeout: float):
        self.deadline = time.monotonic() + timeout
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     close_fds=True)
        os.close(slave)
        self.shown = b""

    def wait_for(self, done) -> None:
        """Reads what the terminal shows until done(shown) or s_client
        ended; TimeoutError past the deadline."""
        while not done(self.shown):
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the terminal showed {self.shown[-300:]!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: s_client ended and the pty closed
                return
            if not data:
                return
            self.shown += data

    def type(self, lines: list[str]) -> None:
        """Types `lines` and waits until the terminal has echoed the last of
        them and then shown the last line of a reply."""
        start = len(self.shown)
        os.write(self.master, "".join(f"{line}\n" for line in lines).encode())
        echo = f"{lines[-1]}\r\n".encode()

        def answered(shown: bytes) -> bool:
            at = shown.find(echo, start)
            return at >= 0 and REPLY_END.search(shown, at + len(echo)) is not None
        self.wait_for(answered)

    def close(self) -> str:
        """Waits for s_client to end (the server closed after QUIT), kills it
        past the deadline; what the terminal showed, with LF line endings."""
        self.wait_for(lambda shown: self.proc.poll() is not None)
        try:
            self.proc.wait(timeout=max(0.1, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        return self.shown.decode(errors="replace").replace("\r\n", "\n")


def s_client_session(port: int, cafile: Path, servername: str, typed: list[list[str]],
                     timeout: float = 30.0) -> str:
    """The terminal's text of one s_client -starttls smtp session on
    127.0.0.1:port: the handshake report, then each group of `typed` lines
    after the answer to the one before."""
    term = Terminal(["openssl", "s_client", "-starttls", "smtp", "-crlf",
                     "-connect", f"127.0.0.1:{port}", "-servername", servername,
                     "-CAfile", str(cafile)], timeout)
    try:
        # The report, then the last line of the EHLO reply s_client read
        # before STARTTLS, which it shows after the report: a person types
        # once the screen has settled.
        term.wait_for(lambda shown: re.search(
            rb"Verify return code:.*?\n---\r?\n\d{3} [^\n]*\n", shown, re.S))
        for group in typed:
            term.type(group)
    finally:
        text = term.close()
    return text
