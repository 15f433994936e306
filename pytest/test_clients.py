"""Third-party clients, pinned: each built-in adapter runs over every
scenario of the catalogue and must do exactly what its expectations file
(pytest/expected/<client>.toml) records: pass, or fail with the recorded
labels (oracle ids and the verdict's own reasons, see pins.label). A
change in a client's behaviour, or in the harness's judgement, fails here
with the difference. After a deliberate change, rerun
pytest/record_expectations.py CLIENT and review the diff.

The reference client is not pinned: it must pass everything
(test_catalogue.py). A client that is not installed is skipped, saying so.
"""

from __future__ import annotations

import re
import shutil

import pytest

from starttls_mock import adapters, harness, pins, running


# The reference client's adapters (pinned = false) are held to passing
# everything instead (test_catalogue.py for SMTP, test_imap.py for IMAP).
PINNED = adapters.pinned_adapter_names()


def cases():
    for name in PINNED:
        pinned = pins.load_expectations(name)["scenarios"]
        for scenario in sorted(pinned):
            yield pytest.param(name, scenario, pinned[scenario], id=f"{name}:{scenario}")


def test_every_adapter_has_expectations():
    assert len(PINNED) >= 6, PINNED
    assert {"reference", "reference-imap"}.isdisjoint(PINNED)
    for name in PINNED:
        assert pins.expectations_path(name).exists(), name


@pytest.mark.parametrize("name", PINNED)
def test_every_scenario_is_pinned(name):
    pinned = pins.load_expectations(name)["scenarios"]
    speaks = adapters.load_adapter(name).protocols
    catalogue = {harness.relative(p) for p in harness.scenario_files(speaks)}
    missing, stale = sorted(catalogue - set(pinned)), sorted(set(pinned) - catalogue)
    assert not missing and not stale, (
        f"{name}: not pinned {missing}, pinned but gone {stale}; run "
        f"pytest/record_expectations.py {name} and review the diff")


@pytest.mark.parametrize("name, scenario, pinned", list(cases()))
def test_client_matches_its_pins(name, scenario, pinned, tmp_path, starttls_record):
    adapter = adapters.load_adapter(name)
    if adapter.requires and not shutil.which(adapter.requires):
        pytest.skip(f"{adapter.requires} is not installed (tools/install-deps.sh)")
    result = running.run(harness.SCENARIOS / scenario, tmp_path, adapter)
    starttls_record(result)
    if why := pins.mismatch(result, pinned, lambda: pins.load_expectations(name)):
        pytest.fail(why, pytrace=False)
    got = frozenset(result.labels())
    assert (result.verdict == "pass") == (not got)
    assert (result.verdict == "off-script") == (pins.OFF_SCRIPT in got)
    # Every oracle that fired is a label, and the reverse.
    assert set(result.oracles()) == got & harness.oracle_ids(), result.explain()


# A sanity floor per protocol: the plain deferred handshake.
FLOOR = {"smtp": "control/hotmail-2009.smtp", "imap": "control/deferred-handshake.imap",
         "pop3": "control/deferred-handshake.pop3"}


@pytest.mark.parametrize("name", PINNED)
def test_each_pinned_client_passes_the_plain_deferred_handshake(name):
    """Every SMTP client delivers the article's session; every IMAP or POP3
    client logs in after a plain STARTTLS or STLS."""
    for protocol in adapters.load_adapter(name).protocols:
        assert pins.load_expectations(name)["scenarios"][FLOOR[protocol]] == {frozenset()}


# Labels that say the harness or the machine failed, not the client: a pin
# allowing one would let a broken run pass as the client's behaviour.
NEVER_PINNED = {"error", pins.NO_CONNECTION}
# How many runs of each scenario, at least, every pin stands on, and how many
# of them with the machine loaded (record_expectations.py --load).
MIN_RUNS, MIN_LOADED_RUNS = 4, 4


@pytest.mark.parametrize("name", PINNED)
def test_pins_stand_on_enough_runs_some_of_them_loaded(name):
    recorded = pins.load_expectations(name)["recorded"]
    assert set(recorded) == set(pins.RECORDED_FIELDS), \
        f"{name}: its [recorded] table is missing or incomplete: {recorded}"
    assert recorded["runs"] >= MIN_RUNS and recorded["loaded_runs"] >= MIN_LOADED_RUNS, (
        f"{name}: pinned from {recorded['runs']} runs ({recorded['loaded_runs']} loaded); "
        f"record again with --runs {MIN_RUNS} --load 2")


@pytest.mark.parametrize("name", PINNED)
def test_no_pin_allows_an_error_or_no_connection(name):
    bad = {scenario: pins.show_pin(pinned)
           for scenario, pinned in pins.load_expectations(name)["scenarios"].items()
           if any(alternative & NEVER_PINNED for alternative in pinned)}
    assert bad == {}, f"{name}: pins that allow a broken run to pass: {bad}"


def pins_allowing_a_pass_among_others() -> set[tuple[str, str]]:
    return {(name, scenario) for name in PINNED
            for scenario, pinned in pins.load_expectations(name)["scenarios"].items()
            if len(pinned) > 1 and frozenset() in pinned}


def test_every_pin_that_allows_a_pass_among_other_outcomes_is_listed():
    """Such a pin cannot show the bug it allows; docs/third-party-clients.md
    lists each one, so that none goes unseen."""
    doc = (harness.ROOT / "docs" / "third-party-clients.md").read_text()
    section = doc.split("## Pins that also allow a pass", 1)
    assert len(section) == 2, "docs/third-party-clients.md has no such section"
    listed = set(re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", section[1].split("\n## ")[0],
                            re.M))
    found = pins_allowing_a_pass_among_others()
    assert listed == found, (f"listed but no longer so: {sorted(listed - found)}; "
                             f"not listed: {sorted(found - listed)}")
