"""IMAP end to end: real runs of starttls-mock serving the IMAP scenarios.

Each bad_imap_client --bug switch fails exactly the pinned scenarios for
the pinned reasons (labels: oracle ids and the verdict's own reasons) and
leaves the pinned quiet ones passing; without switches the client passes
every IMAP scenario. Only outcomes that do not depend on scheduling are
pinned: a ClientHello sent right after STARTTLS races the server's
immediate OK, so early-tls is pinned where the OK is held (or never sent).
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import bad_imap_client
from starttls_mock import adapters, harness, running

REFUSE_LOGGED_IN = "expected refuse, observed logged-in"
LOG_IN_REFUSED = "expected log-in, observed refused"
QUIET = ()

IMAP = harness.scenario_files(("imap",))
BAD_CERTIFICATES = [f"certificates/{p['name']}.imap" for p in harness.certificate_profiles()
                    if p["must_be_refused"]]

PINS: dict[str, dict[str, tuple[str, ...]]] = {
    "plaintext-login": {
        "stripping/starttls-not-advertised.imap":
            ("credentials-in-plaintext", "plaintext-after-refusal", REFUSE_LOGGED_IN),
        "stripping/starttls-refused-no.imap":
            ("credentials-in-plaintext", "plaintext-after-refusal", REFUSE_LOGGED_IN),
        "stripping/starttls-refused-bad.imap":
            ("credentials-in-plaintext", "plaintext-after-refusal", REFUSE_LOGGED_IN),
        "stripping/starttls-answered-untagged-ok.imap":
            ("credentials-in-plaintext", "plaintext-after-refusal", REFUSE_LOGGED_IN),
        # LOGIN refused by LOGINDISABLED: the password went out all the same.
        "stripping/logindisabled-without-starttls.imap":
            ("credentials-in-plaintext", "login-while-disabled"),
        "control/deferred-handshake.imap": QUIET,
    },
    "early-tls": {
        "ordering/starttls-reply-held.imap": ("early-tls", LOG_IN_REFUSED),
        "timing/stall-after-starttls.imap": ("early-tls",),
        "stripping/starttls-refused-no.imap": ("tls-without-220",),
        "stripping/starttls-refused-bad.imap": ("tls-without-220",),
        "truncation/starttls-ok-cut-then-close.imap": ("early-tls",),
        # The ClientHello comes after the untagged OK, and the client is
        # gone before the held NO is sent.
        "stripping/starttls-answered-untagged-ok.imap": ("tls-on-incomplete-reply",),
        "stripping/starttls-not-advertised.imap": QUIET,
    },
    "tls-on-untagged-ok": {
        # The held NO is the answer, and it came: TLS after a refusal.
        "stripping/starttls-answered-untagged-ok.imap": ("tls-without-220",),
        "control/deferred-handshake.imap": QUIET,
    },
    "preauth-select": {
        **{name: ("continued-after-preauth", REFUSE_LOGGED_IN) for name in (
            "stripping/preauth-greeting.imap", "stripping/preauth-greeting-plain.imap",
            "stripping/preauth-with-referral.imap",
            "field/mutt-cve-2020-14093.imap", "field/alpine-cve-2020-14929.imap")},
        "control/responder-only.imap": QUIET,
    },
    "no-verify": {
        **{name: ("proceeded-after-bad-certificate", REFUSE_LOGGED_IN)
           for name in BAD_CERTIFICATES},
        "certificates/valid.imap": QUIET,
    },
    "stale-capabilities": {
        # AUTH=PLAIN was offered only before TLS.
        "ordering/capabilities-change-after-tls.imap": ("capabilities-from-before-tls",),
        # ... with the answer to STARTTLS, and not at all over TLS.
        "injection/capability-before-starttls-ok.imap":
            ("capabilities-from-before-tls", LOG_IN_REFUSED),
        # LOGINDISABLED, learned before TLS, leaves it no way to log in.
        "control/deferred-handshake.imap": (LOG_IN_REFUSED,),
        "ordering/logindisabled-lifted-after-tls.imap": (LOG_IN_REFUSED,),
        "stripping/starttls-not-advertised.imap": QUIET,
    },
    "buffered-after-tls": {
        **{name: ("capabilities-from-before-tls",) for name in (
            "injection/capability-injected-same-segment.imap",
            "injection/tagged-ok-injected-for-next-command.imap",
            "field/curl-cve-2021-22947-imap.imap", "field/mutt-cve-2020-14954-imap.imap")},
        "control/deferred-handshake.imap": QUIET,
    },
}


def misbehaving(*bugs: str) -> adapters.Adapter:
    switches = "".join(f" --bug {bug}" for bug in bugs)
    return adapters.command_adapter(
        "{python} {harness}/bad_imap_client.py --host {host} --port {port}"
        " --cafile {cafile} --servername {servername} --timeout {timeout}" + switches,
        "require-tls", name="bad_imap_client" + switches.replace(" --bug ", "+"),
        protocols=("imap",))


def check(result: running.Result, pinned: tuple[str, ...]) -> None:
    assert result.labels() == set(pinned), result.explain()
    assert result.verdict == ("fail" if pinned else "pass"), result.explain()


def cases():
    for switch, by_scenario in PINS.items():
        for name, pinned in by_scenario.items():
            yield pytest.param(switch, name, pinned, id=f"{switch}:{name}")


def test_the_imap_catalogue_has_its_categories():
    names = {harness.relative(p) for p in IMAP}
    assert {Path(n).parent.name for n in names} >= {
        "control", "ordering", "stripping", "certificates", "timing", "tls"}
    assert "stripping/preauth-greeting.imap" in names
    assert len(BAD_CERTIFICATES) >= 4


def test_every_switch_is_pinned_firing_and_quiet():
    assert set(PINS) == set(bad_imap_client.BUGS)
    for switch, by_scenario in PINS.items():
        assert any(by_scenario.values()), f"{switch}: no scenario catches it"
        assert any(not p for p in by_scenario.values()), f"{switch}: nothing stays quiet"
        for name in by_scenario:
            harness.scenario_file(name)


@pytest.mark.parametrize("switch, name, pinned", list(cases()))
def test_imap_bug_switch(switch, name, pinned, tmp_path):
    check(running.run(harness.scenario_file(name), tmp_path, misbehaving(switch)),
          pinned)


@pytest.mark.parametrize("scenario", IMAP, ids=harness.relative)
def test_the_imap_client_without_switches_passes(scenario, tmp_path):
    check(running.run(scenario, tmp_path, misbehaving()), QUIET)


@pytest.mark.parametrize("scenario", IMAP, ids=harness.relative)
def test_the_reference_client_passes_every_imap_scenario(scenario, tmp_path):
    result = running.run(scenario, tmp_path, adapters.load_adapter("reference-imap"))
    check(result, QUIET)


def test_an_imap_clients_suite_reports_name_the_protocol(tmp_path):
    """`--client imaplib` selects the IMAP scenarios by itself; the JSON
    results and the JUnit properties say imap."""
    report, junit = tmp_path / "r.json", tmp_path / "junit.xml"
    argv = [adapters.PYTHON, "-m", "pytest", str(harness.ROOT / "pytest" / "test_catalogue.py"),
            "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-k", "test_scenario",
            "--client", "imaplib", "--scenario", "control/*", "--report-json", str(report),
            "--junitxml", str(junit), "--basetemp", str(tmp_path / "inner")]
    done = subprocess.run(argv, cwd=harness.ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(report.read_text())["results"]
    assert {r["scenario"] for r in results} == {"control/deferred-handshake.imap",
                                               "control/responder-only.imap"}
    assert {(r["protocol"], r["observed"], r["verdict"]) for r in results} == {
        ("imap", "logged-in", "pass")}
    props = [{p.get("name"): p.get("value") for p in case.iter("property")}
             for case in ET.parse(junit).getroot().iter("testcase")]
    assert [p["protocol"] for p in props] == ["imap", "imap"]


def test_an_smtp_client_is_never_run_on_imap_scenarios():
    smtp_only = adapters.load_adapter("reference")
    assert smtp_only.protocols == ("smtp",)
    assert not set(harness.scenario_files(smtp_only.protocols)) & set(IMAP)
