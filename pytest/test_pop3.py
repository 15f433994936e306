"""POP3 end to end: real runs of starttls-mock serving the POP3 scenarios,
judged from the wire.

Each bad_pop3_client --bug switch fails the pinned scenarios for the pinned
reasons (labels: oracle ids and the verdict's own reasons) and leaves the
pinned quiet ones passing; without switches the client passes every POP3
scenario, and so does the reference client. A pin is a tuple of labels, or
AnyOf several where the outcome depends on scheduling (every alternative a
failure).
"""

from __future__ import annotations

import pytest

import bad_pop3_client
from starttls_mock import adapters, harness, running

POP3 = harness.scenario_files(("pop3",))
BAD_CERTIFICATES = [f"certificates/{p['name']}.pop3" for p in harness.certificate_profiles()
                    if p["must_be_refused"]]

REFUSE_LOGGED_IN = "expected refuse, observed logged-in"
LOG_IN_REFUSED = "expected log-in, observed refused"
QUIET = ()


class AnyOf(tuple):
    """Any one of these label tuples, and nothing else."""


PINS: dict[str, dict[str, tuple]] = {
    "plaintext-login": {
        **{f"stripping/{name}.pop3": ("credentials-in-plaintext", "plaintext-after-refusal",
                                      REFUSE_LOGGED_IN)
           for name in ("stls-not-advertised", "stls-refused", "capa-refused")},
        "field/kmail-cve-2020-15954.pop3": ("credentials-in-plaintext",
                                            "plaintext-after-refusal", REFUSE_LOGGED_IN),
        "control/responder-only.pop3": QUIET,
        "stripping/sasl-lure-no-stls.pop3": ("credentials-in-plaintext",
                                             "plaintext-after-refusal", REFUSE_LOGGED_IN),
        # The handshake fails on the plain-text -ERR; it gives up there.
        "tls/stls-ok-then-plain-text.pop3": QUIET,
    },
    "early-tls": {
        # The +OK is held: the ClientHello comes first, and the +OK lands in
        # the handshake.
        "ordering/stls-reply-held.pop3": ("early-tls", LOG_IN_REFUSED),
        "truncation/stls-ok-cut-then-close.pop3": ("early-tls",),
        "stripping/stls-not-advertised.pop3": QUIET,
    },
    "no-verify": {
        **{name: ("proceeded-after-bad-certificate", REFUSE_LOGGED_IN)
           for name in BAD_CERTIFICATES},
        "certificates/valid.pop3": QUIET,
    },
    "stale-capabilities": {
        # SASL PLAIN from the CAPA before TLS, used over TLS unasked.
        "ordering/capabilities-change-after-tls.pop3": ("capabilities-from-before-tls",),
        "control/responder-only.pop3": ("capabilities-from-before-tls",),
        "stripping/stls-not-advertised.pop3": QUIET,
        # SASL PLAIN from the long CAPA answer before TLS.
        "control/capa-every-keyword.pop3": ("capabilities-from-before-tls",),
    },
    "buffered-after-tls": {
        # The injected answer is read as CAPA's over TLS: AUTH PLAIN, which
        # the server over TLS does not offer. Whether AUTH goes out before
        # the real answer to CAPA arrives is scheduling.
        **{name: AnyOf([("capabilities-from-before-tls",),
                        ("capabilities-from-before-tls", "acted-on-injected-reply")])
           for name in ("injection/capa-injected-same-segment.pop3",
                        "field/curl-cve-2021-22947-pop3.pop3")},
        "control/responder-only.pop3": QUIET,
    },
    "apop-before-tls": {
        "control/responder-only.pop3": ("credentials-in-plaintext", "plaintext-after-refusal"),
        **{f"stripping/{name}.pop3": ("credentials-in-plaintext", "plaintext-after-refusal",
                                      REFUSE_LOGGED_IN)
           for name in ("stls-not-advertised", "apop-lure-no-stls")},
    },
    "err-greeting": {
        # Nothing on the wire is wrong but going on: the outcome says it.
        "stripping/greeting-err.pop3": (REFUSE_LOGGED_IN,),
        "control/responder-only.pop3": QUIET,
    },
}


def misbehaving(*bugs: str) -> adapters.Adapter:
    switches = "".join(f" --bug {bug}" for bug in bugs)
    return adapters.command_adapter(
        "{python} {harness}/bad_pop3_client.py --host {host} --port {port}"
        " --cafile {cafile} --servername {servername} --timeout {timeout}" + switches,
        "require-tls", name="bad_pop3_client" + switches.replace(" --bug ", "+"),
        protocols=("pop3",))


def check(result: running.Result, pinned) -> None:
    alternatives = [set(p) for p in pinned] if isinstance(pinned, AnyOf) else [set(pinned)]
    assert result.labels() in alternatives, (
        f"pinned {[sorted(a) for a in alternatives]}: " + result.explain())
    assert result.verdict == ("fail" if result.labels() else "pass"), result.explain()


def cases():
    for switch, by_scenario in PINS.items():
        for name, pinned in by_scenario.items():
            yield pytest.param(switch, name, pinned, id=f"{switch}:{name}")


def test_every_switch_is_pinned_firing_and_quiet():
    assert set(PINS) == set(bad_pop3_client.BUGS)
    for switch, by_scenario in PINS.items():
        assert any(by_scenario.values()), f"{switch}: no scenario catches it"
        for name in by_scenario:
            harness.scenario_file(name)
    assert any(not p for by_scenario in PINS.values() for p in by_scenario.values())


@pytest.mark.parametrize("switch, name, pinned", list(cases()))
def test_pop3_bug_switch(switch, name, pinned, tmp_path):
    check(running.run(harness.scenario_file(name), tmp_path, misbehaving(switch)), pinned)


@pytest.mark.parametrize("scenario", POP3, ids=harness.relative)
def test_the_pop3_client_without_switches_passes(scenario, tmp_path):
    check(running.run(scenario, tmp_path, misbehaving()), QUIET)


def test_the_pop3_catalogue_has_its_categories():
    names = {harness.relative(p) for p in POP3}
    assert {n.split("/")[0] for n in names} >= {
        "control", "ordering", "stripping", "injection", "truncation"}


@pytest.mark.parametrize("scenario", POP3, ids=harness.relative)
def test_the_reference_client_passes_every_pop3_scenario(scenario, tmp_path):
    result = running.run(scenario, tmp_path, adapters.load_adapter("reference-pop3"))
    assert result.verdict == "pass", result.explain()
    assert result.labels() == set(), result.explain()


def test_the_reference_client_downloads_the_maildrop(tmp_path):
    result = running.run(harness.scenario_file("control/responder-only.pop3"), tmp_path,
                         adapters.load_adapter("reference-pop3"))
    assert result.verdict == "pass", result.explain()
    assert "2 messages" in result.client.stdout and "2 retrieved" in result.client.stdout, \
        result.explain()


def test_an_smtp_or_imap_client_is_never_run_on_pop3_scenarios():
    for name in ("reference", "reference-imap"):
        speaks = adapters.load_adapter(name).protocols
        assert not set(harness.scenario_files(speaks)) & set(POP3)
