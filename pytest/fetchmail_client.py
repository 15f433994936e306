#!/usr/bin/python3
"""fetchmail_client: runs fetchmail once against a scenario's server over
IMAP or POP3 (--protocol): STARTTLS (POP3: STLS) enforced (sslproto 'tls1.2+'), strict certificate checks
(sslcertck) against the scenario's CA (sslcertfile), every message fetched
and kept, delivered to /dev/null.

    fetchmail_client.py --host NAME --port P --cafile FILE --timeout S
        [--protocol imap|pop3]

fetchmail checks the name it connects to (sslcertck), so --host is the
scenario's host name (the adapter's `resolve`). Exit status: 0 when it
fetched mail, fetchmail's own status otherwise (1: no mail, 2: socket
error, 3: authentication failed, 4: protocol error; its manual lists the
rest), or 9 when it did not finish within 4 x S seconds (it is killed).
Standard library only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bounded_run import run_bounded

PROG = "fetchmail_client"

RC = """\
set no syslog
set no bouncemail
poll {host} service {port} protocol {protocol} auth password timeout {timeout}
  user "bob" password "secret"
  sslproto 'tls1.2+' sslcertck sslcertfile "{cafile}"
  fetchall keep no rewrite mda "/bin/sh -c 'cat > /dev/null'"
"""


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--cafile", required=True)
    p.add_argument("--timeout", type=int, default=10)
    p.add_argument("--protocol", choices=("imap", "pop3"), default="imap")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fetchmail-") as d:
        rc = Path(d) / "fetchmailrc"
        rc.write_text(RC.format(host=args.host, port=args.port, cafile=args.cafile,
                                timeout=args.timeout, protocol=args.protocol.upper()))
        rc.chmod(0o600)  # fetchmail refuses a run control file others can read
        # Its own home: the .fetchids and lock files stay in the run.
        env = dict(os.environ, HOME=d, FETCHMAILHOME=d)
        # Its own lock file: as root fetchmail locks /var/run/fetchmail.pid,
        # and would refuse to run beside another run's fetchmail.
        return run_bounded(PROG, ["fetchmail", "--nodetach", "-f", str(rc),
                                  "--pidfile", str(Path(d) / "fetchmail.pid")],
                           4 * args.timeout, env)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
