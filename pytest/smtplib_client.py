#!/usr/bin/python3
"""smtplib_client: Python's smtplib as a STARTTLS client that requires TLS.

The same command line as bad_client.py and starttls-client, so that the
harness can run it against a scenario:

    smtplib_client.py --host H --port P [--cafile FILE] [--servername NAME]
        [--timeout SECONDS] [--from ADDR] [--to ADDR]

It does what an application using smtplib correctly does: EHLO, STARTTLS
with a verifying context (ssl.create_default_context: chain and host name
checked against --servername), EHLO again, then the message. It refuses to
go on when STARTTLS is missing or refused. Exit status 0 only when the
server accepted the message; otherwise one line on stderr and:

    1  any other failure (protocol error, connection lost, timeout, ...)
    5  STARTTLS not offered or refused
    7  the certificate did not verify
    8  any other TLS handshake failure
    11 the message was rejected

Standard library only; runs under /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import smtplib
import ssl
import sys
import time

PROG = "smtplib_client"


class Smtp(smtplib.SMTP):
    """smtplib.SMTP verifying `servername` rather than the address it
    connected to: smtplib passes its connect host as server_hostname."""

    def __init__(self, servername: str, **kwargs):
        self._servername = servername
        super().__init__(**kwargs)

    def starttls(self, *, context: ssl.SSLContext):  # type: ignore[override]
        self._host = self._servername
        return super().starttls(context=context)


def message(sender: str, recipient: str) -> bytes:
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    return (f"Date: {date}\r\nFrom: <{sender}>\r\nTo: <{recipient}>\r\n"
            f"Subject: smtplib_client test\r\n"
            f"Message-ID: <{time.time_ns()}@smtplib-client.test>\r\n\r\n"
            f"This message was sent by Python's smtplib.\r\n").encode()


def deliver(args: argparse.Namespace) -> int:
    context = ssl.create_default_context(cafile=args.cafile)
    smtp = Smtp(args.servername or args.host, timeout=args.timeout)
    try:
        # connect() hands back the greeting's code without judging it (only
        # SMTP(host, port) raises on a greeting that is no 220): an
        # application checks it.
        code, greeting = smtp.connect(args.host, args.port)
        if code != 220:
            return fail(1, f"the server refused the session: {code} {greeting!r}")
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            return fail(5, "the server does not offer STARTTLS and TLS is required")
        try:
            smtp.starttls(context=context)
        except smtplib.SMTPResponseException as e:
            return fail(5, f"server answered STARTTLS with {e.smtp_code} {e.smtp_error!r}")
        except ssl.SSLCertVerificationError as e:
            return fail(7, f"certificate rejected: {e.verify_message or e}")
        except ssl.SSLError as e:
            return fail(8, f"TLS handshake failed: {e}")
        smtp.ehlo()
        refused = smtp.sendmail(args.sender, [args.recipient],
                                message(args.sender, args.recipient))
        if refused:
            return fail(11, f"recipient refused: {refused}")
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass  # delivered already; a lost QUIT changes nothing
        print("delivered")
        return 0
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
            smtplib.SMTPDataError) as e:
        return fail(11, f"message rejected: {e}")
    except (smtplib.SMTPException, OSError, ssl.SSLError) as e:
        return fail(1, f"{type(e).__name__}: {e}")
    finally:
        try:
            smtp.close()
        except OSError:
            pass


def fail(code: int, text: str) -> int:
    print(f"{PROG}: {text}".replace("\n", " "), file=sys.stderr)
    return code


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--cafile", help="PEM file of trusted CAs (default: system store)")
    p.add_argument("--servername", help="name to verify and send as SNI (default: --host)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per socket operation")
    p.add_argument("--from", dest="sender", default="sender@example.test")
    p.add_argument("--to", dest="recipient", default="recipient@example.test")
    return deliver(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
