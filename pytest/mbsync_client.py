#!/usr/bin/python3
"""mbsync_client: runs isync's mbsync once against a scenario's server:
STARTTLS required (SSLType STARTTLS), the scenario's CA as the only trust
anchor (CertificateFile, SystemCertificates no), INBOX pulled into a
temporary Maildir.

    mbsync_client.py --host NAME --port P --cafile FILE --timeout S

mbsync verifies the certificate against the host name it connects to, so
--host is the scenario's host name (the adapter's `resolve`). Exit status:
mbsync's (0 when INBOX was synchronized), or 9 when it did not finish
within 4 x S seconds (it is killed). Standard library only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bounded_run import run_bounded

PROG = "mbsync_client"

CONFIG = """\
IMAPAccount test
Host {host}
Port {port}
User bob
Pass secret
SSLType STARTTLS
SSLVersions TLSv1.2 TLSv1.3
CertificateFile {cafile}
SystemCertificates no
Timeout {timeout}

IMAPStore remote
Account test

MaildirStore local
Path {dir}/mail/
Inbox {dir}/mail/INBOX

Channel test
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
# The sync state inside the temporary Maildir, not in ~/.mbsync/, where it
# would outlive the run and clash with the next one.
SyncState *
"""


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--cafile", required=True)
    p.add_argument("--timeout", type=int, default=10)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mbsync-") as d:
        config = Path(d) / "mbsyncrc"
        config.write_text(CONFIG.format(host=args.host, port=args.port, cafile=args.cafile,
                                        timeout=args.timeout, dir=d))
        (Path(d) / "mail").mkdir()
        return run_bounded(PROG, ["mbsync", "-c", str(config), "-a"], 4 * args.timeout)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
