"""Each bad_client --bug switch against scenarios of the catalogue, with real
runs of starttls-mock: the harness fails the scenarios built to catch the
bug, for the right reason (an oracle, or the verdict), and passes the ones
pinned quiet. Only the pinned pairs run, not every switch on every scenario
(docs/oracles.md gives the count). The same client without switches passes
the whole SMTP catalogue, and Python's smtplib with a verifying context
passes what it should (the reference client is test_catalogue.py's).

The pins below are data: switch -> {scenario: labels}. A label is an oracle id
or one of the verdict's own reasons (see `labels`); an empty tuple means the
run must pass. Each switch lists the scenarios built to catch it, plus a few
that must stay quiet. Scenarios where the outcome of a buggy client depends on
scheduling (a reply written without a hold window, racing the client's
ClientHello) are left out: only windowed faults are pinned, so a slow machine
cannot flip a pin.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bad_client
import test_imap
from starttls_mock import adapters, harness, pins, running


# Verdict labels (the oracle ids are labels too).
REFUSE_DELIVERED = "expected refuse, observed delivered"
DELIVER_REFUSED = "expected deliver, observed refused"
REFUSE_HUNG = "expected refuse, observed hung"
EXIT0_UNDELIVERED = "client exited 0, not delivered"

# Oracle ids, for readability.
EARLY_TLS = "early-tls"
INCOMPLETE = "tls-on-incomplete-reply"
PIPELINED = "pipelined-after-starttls"
NO_EHLO = "no-ehlo-after-tls"
INJECTED = "acted-on-injected-reply"
AFTER_REFUSAL = "plaintext-after-refusal"
CREDENTIALS = "credentials-in-plaintext"
BAD_CERT = "proceeded-after-bad-certificate"
DOWNGRADE = "downgrade-by-reconnect"
HANG = "hang"
WITHOUT_220 = "tls-without-220"
WITHOUT_STARTTLS = "tls-without-starttls"
# Every oracle, as the server defines them.
ORACLES = harness.oracle_ids()

QUIET = ()


class AnyOf(tuple):
    """A pin whose labels depend on scheduling: any one of these label
    tuples, and nothing else, passes (as `{ any = [...] }` in the client
    pins). Every alternative here is a failure."""

# Certificate profiles a correct client refuses (Expect: refuse), as the
# binary's catalogue says.
BAD_CERTIFICATES = [p["name"] for p in harness.certificate_profiles() if p["must_be_refused"]]
NAME_MISMATCHES = ["cn-matches-san-does-not", "ip-mismatch", "wildcard-too-broad",
                   "wrong-host"]
STRIPPING = ["ehlo-refused-500", "ehlo-refused-helo-accepted", "starttls-not-advertised",
             "starttls-refused-354", "starttls-refused-454", "starttls-refused-501",
             "starttls-refused-502", "starttls-refused-530", "starttls-refused-500",
             "auth-offered-no-starttls", "ehlo-refused-530"]

PINS: dict[str, dict[str, tuple[str, ...]]] = {
    "no-verify": {
        **{f"certificates/{c}": (BAD_CERT, REFUSE_DELIVERED) for c in BAD_CERTIFICATES},
        "certificates/valid": QUIET,
        "certificates/cn-only-no-san": QUIET,  # deliver-or-refuse
        "control/responder-only": QUIET,
        # The retry after the 421 meets the self-signed certificate.
        "reconnect/second-certificate-self-signed": (BAD_CERT, REFUSE_DELIVERED),
    },
    "no-hostname-check": {
        **{f"certificates/{c}": (BAD_CERT, REFUSE_DELIVERED) for c in NAME_MISMATCHES},
        "certificates/expired": QUIET,
        "certificates/self-signed": QUIET,
        "certificates/untrusted-root": QUIET,
        "certificates/ip-match": QUIET,
        "certificates/valid": QUIET,
    },
    "tls-before-220": {
        # The 220 is held until the client has been silent for a window: the
        # ClientHello comes first, and the 220 lands in the handshake.
        "ordering/starttls-reply-held": (EARLY_TLS, DELIVER_REFUSED),
        "ordering/pipelined-after-starttls": (EARLY_TLS, DELIVER_REFUSED),
        "control/multiline-greeting": (EARLY_TLS, DELIVER_REFUSED),
        "injection/injected-ehlo-reply-same-segment": (EARLY_TLS,),
        "truncation/220-cut-then-close": (EARLY_TLS,),
        # No STARTTLS is ever sent.
        "stripping/starttls-not-advertised": QUIET,
        "stripping/ehlo-refused-500": QUIET,
    },
    "tls-on-incomplete-220": {
        "ordering/continuation-220": (INCOMPLETE, DELIVER_REFUSED),
        "truncation/220-cut-held-open": (INCOMPLETE,),
        "truncation/220-cut-then-close": (INCOMPLETE,),
        "ordering/starttls-reply-held": QUIET,
        "control/responder-only": QUIET,
        "certificates/valid": QUIET,
        "stripping/starttls-refused-454": QUIET,
    },
    "first-line-is-reply": {
        # "220-" taken as the greeting; the rest of it read as the EHLO reply.
        "control/multiline-greeting": (DELIVER_REFUSED,),
        "ordering/continuation-220": (INCOMPLETE, DELIVER_REFUSED),
        "truncation/220-continuation-then-silence": (INCOMPLETE,),
        "control/responder-only": QUIET,
        "control/hotmail-2009": QUIET,
        "ordering/starttls-reply-held": QUIET,
    },
    "pipeline-after-starttls": {
        "ordering/pipelined-after-starttls": (PIPELINED,),
        "control/responder-only": (PIPELINED,),
        "certificates/valid": (PIPELINED,),
        "certificates/expired": (PIPELINED,),
        "stripping/starttls-refused-454": (PIPELINED,),
        "stripping/starttls-not-advertised": QUIET,
        "stripping/ehlo-refused-helo-accepted": QUIET,
    },
    "keep-plaintext-buffer": {
        "injection/injected-ehlo-reply-same-segment": (INJECTED,),
        # The message goes out after the real server answered DATA with 554,
        # on the strength of an injected 354, and the client claims delivery.
        # The client sends everything and closes at once: whether the server
        # has read the message by then (the oracle's evidence) is a race on
        # a loaded machine; the false claim is there either way.
        "injection/injected-transaction-same-segment":
            AnyOf([(INJECTED, EXIT0_UNDELIVERED), (EXIT0_UNDELIVERED,)]),
        "control/responder-only": QUIET,
        "ordering/starttls-reply-held": QUIET,
        "certificates/valid": QUIET,
    },
    "no-ehlo-after-tls": {
        "control/responder-only": (NO_EHLO, DELIVER_REFUSED),
        # MAIL where the script waits for EHLO: off script, so only the
        # oracle counts.
        "ordering/ehlo-first-over-tls": (NO_EHLO,),
        "certificates/valid": (NO_EHLO, DELIVER_REFUSED),
        "certificates/cn-only-no-san": (NO_EHLO,),  # deliver-or-refuse
        "truncation/close-after-data": (NO_EHLO,),
        "certificates/expired": QUIET,
        "stripping/starttls-refused-454": QUIET,
        "stripping/starttls-not-advertised": QUIET,
    },
    "tls-on-any-2xx": {
        "stripping/starttls-answered-250": (WITHOUT_220,),
        "stripping/starttls-answered-252": (WITHOUT_220,),
        "stripping/starttls-answered-221": (WITHOUT_220,),
        "stripping/starttls-refused-454": QUIET,
        "stripping/starttls-refused-354": QUIET,
        "control/responder-only": QUIET,
    },
    "unsolicited-220-is-go-ahead": {
        "injection/220-before-starttls": (WITHOUT_STARTTLS,),
        "injection/220-before-starttls-then-454": (WITHOUT_STARTTLS,),
        "control/hotmail-2009": QUIET,
        "control/responder-only": QUIET,
    },
    "starttls-again": {
        "ordering/starttls-offered-again-after-tls": ("second-starttls",),
        "control/responder-only": QUIET,
        "certificates/valid": QUIET,
        "control/hotmail-2009": QUIET,
    },
    "plaintext-fallback": {
        **{f"stripping/{s}": (AFTER_REFUSAL, REFUSE_DELIVERED) for s in STRIPPING},
        # The injected 220 is read as the reply to MAIL: no delivery, but
        # MAIL went out in plain text.
        "injection/454-then-injected-success": (AFTER_REFUSAL,),
        # The responder serves whoever goes on after a 421 or a 221.
        "stripping/starttls-refused-421": (AFTER_REFUSAL, REFUSE_DELIVERED),
        "stripping/starttls-answered-221": (AFTER_REFUSAL, REFUSE_DELIVERED),
        # The injected 235, 250s and 354 answer AUTH (not sent), MAIL, RCPT
        # and DATA; the desynchronised session delivers nothing.
        "field/curl-test-980": (AFTER_REFUSAL,),
        # Connection 2 of the script no longer offers STARTTLS.
        "reconnect/alert-then-plain": (DOWNGRADE, REFUSE_DELIVERED),
        "reconnect/reset-then-plain": (DOWNGRADE, REFUSE_DELIVERED),
        # The script is replayed on the client's second connection.
        "certificates/expired": (DOWNGRADE, REFUSE_DELIVERED),
        "tls/server-alert": (DOWNGRADE,),
        # The retry after the 451 finds no STARTTLS and goes on.
        "reconnect/message-deferred-then-no-starttls": (AFTER_REFUSAL, REFUSE_DELIVERED),
        "control/responder-only": QUIET,
        "certificates/valid": QUIET,
    },
    "auth-before-tls": {
        "control/responder-only": (CREDENTIALS,),
        "ordering/starttls-reply-held": (CREDENTIALS,),
        "stripping/starttls-not-advertised": (CREDENTIALS,),
        "stripping/starttls-refused-454": (CREDENTIALS,),
        "stripping/auth-offered-no-starttls": (CREDENTIALS,),
        "control/auth-offered-with-starttls": (CREDENTIALS,),
        # EHLO is never answered, so AUTH never goes out.
        "timing/stall-after-ehlo": QUIET,
    },
    "no-timeouts": {
        # Run on copies whose Timeout is SHORT_TIMEOUT (see `scenario_for`).
        "timing/stall-after-ehlo": (HANG, REFUSE_HUNG),
        "truncation/220-cut-held-open": (HANG, REFUSE_HUNG),
        "tls/stall-mid-handshake": (HANG, REFUSE_HUNG),
        "truncation/greeting-continuation-never-ends": (HANG, REFUSE_HUNG),
        # Lines keep coming: only the session's deadline ends the reading.
        "truncation/ehlo-reply-never-ends": (HANG, REFUSE_HUNG),
        "control/responder-only": QUIET,
        "truncation/close-after-starttls": QUIET,
        # The megabyte line is over the client's line bound: it refuses.
        "truncation/reply-line-megabyte": QUIET,
    },
    "success-after-truncated-data": {
        "truncation/close-after-data": (EXIT0_UNDELIVERED,),
        "truncation/close-after-starttls": QUIET,
        "tls/no-close-notify": QUIET,
        "control/responder-only": QUIET,
    },
    "ignore-greeting-code": {
        # The responder serves whoever goes on after a 554 or 421 greeting.
        "stripping/greeting-554": (REFUSE_DELIVERED,),
        "stripping/greeting-421": (REFUSE_DELIVERED,),
        "stripping/greeting-221": (REFUSE_DELIVERED,),
        "stripping/greeting-354": (REFUSE_DELIVERED,),
        # A 999 is no reply line to the client's parser.
        "stripping/greeting-nonsense-code": QUIET,
        "control/responder-only": QUIET,
    },
    "trust-on-retry": {
        "reconnect/second-certificate-self-signed": (BAD_CERT, REFUSE_DELIVERED),
        # The same retry, checked as carefully as the first connection: the
        # retry itself is no fault.
        "reconnect/message-deferred-then-no-starttls": QUIET,
        # No 4xx, no retry: the first connection's checks apply.
        "certificates/self-signed": QUIET,
        "certificates/valid": QUIET,
    },
    "accept-tls10": {
        "tls/tls10-only": (REFUSE_DELIVERED,),
        # The switch drops to OpenSSL security level 0, which also accepts a
        # 1024-bit RSA key and a SHA-1 signature.
        "certificates/rsa-1024": (BAD_CERT, REFUSE_DELIVERED),
        "certificates/sha1-signature": (BAD_CERT, REFUSE_DELIVERED),
        "tls/tls12-only": QUIET,
        "certificates/valid": QUIET,
        "certificates/expired": QUIET,
    },
}

# Python's smtplib (smtplib_client.py): what it must pass, and the two real
# smtplib bugs the catalogue catches.
SMTPLIB_PINS: dict[str, tuple[str, ...]] = {
    **{f"certificates/{c}": QUIET for c in [
        "expired", "wrong-host", "self-signed", "untrusted-root", "valid",
        "untrusted-root-not-sent", "incomplete-chain", "not-yet-valid", "ip-match",
        "ip-mismatch", "cn-matches-san-does-not"]},
    **{str(p.relative_to(harness.SCENARIOS).with_suffix("")): QUIET
       for p in sorted((harness.SCENARIOS / "control").glob("*.smtp"))},
    "stripping/starttls-not-advertised": QUIET,
    "stripping/starttls-refused-454": QUIET,
    "ordering/starttls-reply-held": QUIET,
    "ordering/continuation-220": QUIET,
    "injection/injected-ehlo-reply-same-segment": QUIET,
    # smtplib's buffered reader keeps the 220 sent before STARTTLS and takes
    # it as the reply to STARTTLS.
    "injection/220-before-starttls": (EARLY_TLS,),
    # At EOF readline() returns the cut "220 ..." without its CRLF and
    # smtplib takes it as a complete reply.
    "truncation/220-cut-then-close": (INCOMPLETE,),
}

SHORT_TIMEOUT = "2s"     # no-timeouts: the server's deadline on its copies
HANG_BUDGET = 20.0       # no-timeouts: run_client kills the client after this


def smtp_scenario(name: str) -> Path:
    """The SMTP scenario a pin names (bad_client and smtplib speak SMTP)."""
    return harness.scenario_file(f"{name}.smtp")


def scenario_for(switch: str, name: str, tmp_path: Path) -> Path:
    """The scenario file; for no-timeouts a copy with a short Timeout, so the
    server's deadline (not the client's) ends the run quickly."""
    path = smtp_scenario(name)
    if switch != "no-timeouts":
        return path
    text = path.read_text()
    header = f"Timeout: {SHORT_TIMEOUT}"
    text, n = re.subn(r"(?m)^Timeout:.*$", header, text)
    if n == 0:
        text = header + "\n" + text
    copy = tmp_path / "scenario" / path.name
    copy.parent.mkdir()
    copy.write_text(text)
    return copy


def bad_client_adapter(*bugs: str) -> adapters.Adapter:
    """bad_client.py with these switches, as a client adapter; its per-step
    deadline is the one the harness derives from each scenario. (With
    no-timeouts the client ignores it.)"""
    switches = "".join(f" --bug {bug}" for bug in bugs)
    return adapters.command_adapter(
        "{python} {harness}/bad_client.py --host {host} --port {port} --cafile {cafile}"
        " --servername {servername} --timeout {timeout}" + switches,
        "require-tls", name="bad_client" + switches.replace(" --bug ", "+"))


def run(scenario: Path, work: Path, adapter: adapters.Adapter,
        budget: float | None = None) -> running.Result:
    return running.run(scenario, work, adapter, budget=budget)


def check(result: running.Result, pinned) -> None:
    """The run's labels (running.Result.labels: oracle ids, "expected X,
    observed Y", "client exited 0, not delivered" or the reverse, "off
    script" for a run that left the script without failing) are one of the
    pinned alternatives."""
    got = result.labels()
    alternatives = [set(p) for p in pinned] if isinstance(pinned, AnyOf) else [set(pinned)]
    assert got in alternatives, (f"pinned {[sorted(a) for a in alternatives]}, got "
                                 f"{sorted(got)}: " + result.explain())
    assert result.verdict in (("pass", "off-script") if not got - {pins.OFF_SCRIPT}
                              else ("fail",)), result.explain()
    # Every oracle that fired is a reason, and the reverse.
    assert set(result.oracles()) == got & ORACLES, result.explain()


def switch_cases():
    for switch, by_scenario in PINS.items():
        for name, pinned in by_scenario.items():
            yield pytest.param(switch, name, pinned, id=f"{switch}:{name}")


def test_every_switch_is_pinned():
    assert set(PINS) == set(bad_client.BUGS)
    for switch, by_scenario in PINS.items():
        assert any(by_scenario.values()), f"{switch}: no scenario catches it"
        assert any(not p for p in by_scenario.values()), f"{switch}: nothing must stay quiet"
        for name in by_scenario:
            smtp_scenario(name)


def test_every_oracle_is_proven_by_some_switch():
    """Of bad_client (SMTP) or bad_imap_client (IMAP, test_imap.PINS): the
    IMAP oracles fire on the IMAP client's switches."""
    pins = list(PINS.values()) + list(test_imap.PINS.values())
    fired = {label for by_scenario in pins for p in by_scenario.values()
             for alternative in (p if isinstance(p, AnyOf) else [p]) for label in alternative}
    assert ORACLES - fired == set()


@pytest.mark.parametrize("switch, name, pinned", list(switch_cases()))
def test_bug_switch(switch, name, pinned, tmp_path):
    scenario = scenario_for(switch, name, tmp_path)
    if switch == "no-timeouts":
        # No client deadline at all: the server's Timeout ends the session
        # (the hang oracle); run_client's budget is the backstop.
        result = run(scenario, tmp_path, bad_client_adapter(switch), budget=HANG_BUDGET)
        assert not result.client.stderr.endswith(f"killed after {HANG_BUDGET:g}s"), \
            result.explain()
    else:
        result = run(scenario, tmp_path, bad_client_adapter(switch))
    check(result, pinned)


@pytest.mark.parametrize("scenario", harness.scenario_files(("smtp",)),
                         ids=lambda p: str(p.relative_to(harness.SCENARIOS).with_suffix("")))
def test_bad_client_without_switches_passes(scenario, tmp_path):
    check(run(scenario, tmp_path, bad_client_adapter()), QUIET)


@pytest.mark.parametrize("name, pinned", list(SMTPLIB_PINS.items()),
                         ids=list(SMTPLIB_PINS))
def test_smtplib(name, pinned, tmp_path):
    check(run(smtp_scenario(name), tmp_path, adapters.load_adapter("smtplib")),
          pinned)


def test_the_docs_count_the_pairs_that_are_pinned():
    text = (harness.ROOT / "docs" / "oracles.md").read_text()
    m = re.search(r"([\d,]+) of the ([\d,]+) switch ×\s+scenario pairs", text)
    assert m, "docs/oracles.md no longer says how many pairs are pinned"
    said = tuple(int(x.replace(",", "")) for x in m.groups())
    assert said == (len(list(switch_cases())),
                    len(PINS) * len(harness.scenario_files(("smtp",))))


def test_each_connection_presents_the_certificate_its_connection_step_names(tmp_path):
    """reconnect/second-certificate-self-signed: connection 1 presents the
    header's profile, connection 2 the one `connection certificate=` names,
    and each session is judged by its own: the retry that trusted the
    self-signed certificate is the finding, the first connection is clean."""
    scenario = smtp_scenario("reconnect/second-certificate-self-signed")
    checked = run(scenario, tmp_path / "checked", bad_client_adapter())
    trusting = run(scenario, tmp_path / "trusting", bad_client_adapter("trust-on-retry"))
    for result in (checked, trusting):
        assert [s["certificate"] for s in result.sessions] == ["valid", "self-signed"], \
            result.explain()
        assert result.sessions[0]["oracles"] == [], result.explain()
    assert checked.passed, checked.explain()
    assert checked.sessions[1]["tls"]["client_alert"] is not None, checked.explain()
    assert [o["id"] for o in trusting.sessions[1]["oracles"]] == [BAD_CERT], trusting.explain()
    assert trusting.sessions[1]["delivered"]
