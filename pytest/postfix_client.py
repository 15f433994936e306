#!/usr/bin/python3
"""postfix_client: Postfix's smtp(8) client as a STARTTLS client, in a
private instance that relays one message to the server under test.

    postfix_client.py --host NAME --port P --cafile FILE --timeout S
        [--from ADDR] [--to ADDR] < message

It makes a Postfix instance of its own under a new directory in /tmp (its
main.cf and master.cf, queue, data and log; no listening service, nothing of
the system's mail configuration read or touched), with relayhost
[NAME]:P, smtp_tls_security_level = secure (STARTTLS required, the chain
checked against FILE, the name against NAME) and every smtp_*_timeout set to
S. It starts the master in the foreground, in this process's own process
group and a PID namespace of its own, hands the message to sendmail(1),
waits for the first delivery attempt's status in the log, stops the master
and removes the directory. Whatever ends it, the master and every daemon end
with it (see the comment where the master starts).

Exit status: 0 when Postfix logged status=sent; 1 when it logged deferred or
bounced (the status line on stderr); 2 for anything else (Postfix would not
start, no status within the deadline). Needs root (master(8) and the
postfix user).
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import postfix_private

POSTFIX = "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"
DAEMONS = postfix_private.DAEMONS

# The services the queue manager needs to relay one message; no inet
# service, so no port is taken.
MASTER_CF = postfix_private.UNIX_SERVICES

TIMEOUTS = ("connect", "helo", "starttls", "mail", "rcpt", "data_init", "data_xfer",
            "data_done", "quit", "xforward")

MAIN_CF = postfix_private.MAIN_CF_COMMON + """\
myhostname = client.example.test
mydomain = example.test
myorigin = client.example.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
relayhost = [{host}]:{port}
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = secure
smtp_tls_secure_cert_match = nexthop
smtp_tls_servername = nexthop
smtp_tls_CAfile = {root}/conf/ca.pem
smtp_tls_loglevel = 1
smtp_tls_session_cache_database =
{timeouts}
"""

STATUS = re.compile(r"status=(sent|deferred|bounced|expired)\b.*")


def fail(code: int, message: str) -> int:
    print(f"postfix_client: {message}", file=sys.stderr)
    return code


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--timeout", type=int, default=10)
    p.add_argument("--from", dest="sender", default="sender@example.test")
    p.add_argument("--to", dest="recipient", default="recipient@example.test")
    p.add_argument("--parent", default=None,
                   help="make the instance's directory here (default: the system's "
                        "temporary directory); it must be open to the postfix user")
    args = p.parse_args()
    if os.geteuid() != 0:
        return fail(2, "Postfix's master(8) must be started as root")
    message = sys.stdin.buffer.read()
    # The harness allows a client 4 per-step timeouts and 2 s in all.
    deadline = time.monotonic() + 4 * args.timeout + 1

    # Under /tmp, not the harness's 0700 work directory: the daemons run as
    # the postfix user and must reach their queue.
    root = Path(tempfile.mkdtemp(prefix="starttls-postfix-client-", dir=args.parent))
    master = None
    try:
        root.chmod(0o755)
        conf = root / "conf"
        conf.mkdir()
        shutil.copy(args.cafile, conf / "ca.pem")
        (conf / "ca.pem").chmod(0o644)
        (root / "queue").mkdir()
        (root / "data").mkdir()
        postfix_user = pwd.getpwnam("postfix")
        os.chown(root / "data", postfix_user.pw_uid, postfix_user.pw_gid)
        timeouts = "\n".join(f"smtp_{t}_timeout = {args.timeout}s" for t in TIMEOUTS)
        (conf / "main.cf").write_text(MAIN_CF.format(
            root=root, daemons=DAEMONS, host=args.host, port=args.port,
            timeouts=timeouts))
        (conf / "master.cf").write_text(MASTER_CF)

        # `postfix check` makes the queue's directories.
        subprocess.run([POSTFIX, "-c", str(conf), "check"], capture_output=True,
                       timeout=30)
        # master(8) as process 1 of a PID namespace of its own, in init mode
        # (-i: it stays in this process group) and with a dead man's switch
        # (-e). Killing this process group, as the harness does at the
        # deadline, kills unshare and so, by --kill-child, the master; the
        # kernel then ends every daemon in its namespace. Nothing outlives us.
        master = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", "--", f"{DAEMONS}/master",
             "-c", str(conf), "-i", "-e", str(4 * args.timeout + 5)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(root / "start-fg.err", "wb"))
        # The master writes its pid file once its services are listening;
        # only then can pickup(8) be woken.
        pid_file = root / "queue" / "pid" / "master.pid"
        started = time.monotonic() + 10
        while not pid_file.exists():
            if master.poll() is not None or time.monotonic() > started:
                err = (root / "start-fg.err").read_text(errors="replace").strip()
                return fail(2, f"postfix did not start: {err}")
            time.sleep(0.02)  # polling for Postfix's pid file; bounded above
        injected = subprocess.run([SENDMAIL, "-C", str(conf), "-f", args.sender, "--",
                                   args.recipient], input=message, capture_output=True,
                                  timeout=args.timeout + 10)
        if injected.returncode != 0:
            return fail(2, f"sendmail exited {injected.returncode}: "
                           f"{injected.stderr.decode(errors='replace').strip()}")
        # Wake pickup(8) now rather than at its next 60 s poll.
        subprocess.run(["/usr/sbin/postkick", "-c", str(conf), "public", "pickup", "W"],
                       capture_output=True, timeout=10)
        log = root / "maillog"
        while time.monotonic() < deadline:
            if master.poll() is not None:
                err = (root / "start-fg.err").read_text(errors="replace").strip()
                return fail(2, f"postfix exited {master.returncode}: {err}")
            text = log.read_text(errors="replace") if log.exists() else ""
            if m := STATUS.search(text):
                if m[1] == "sent":
                    print(m[0])
                    return 0
                return fail(1, m[0])
            time.sleep(0.05)  # polling Postfix's own log file; bounded above
        return fail(2, f"no delivery status within {4 * args.timeout + 1}s:\n"
                       + (log.read_text(errors="replace") if log.exists() else ""))
    finally:
        if master is not None and master.poll() is None:
            # unshare ignores SIGTERM while it waits; SIGKILL ends it, and
            # --kill-child then the master and its namespace.
            master.kill()
            master.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
