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

import shutil

import pytest

from starttls_mock import adapters, harness, pins, running


# The reference client's adapters are held to passing everything instead
# (test_catalogue.py for SMTP, test_imap.py for IMAP).
PINNED = [name for name in adapters.adapter_names()
          if name not in ("reference", "reference-imap")]


def cases():
    for name in PINNED:
        pinned = pins.load_expectations(name)["scenarios"]
        for scenario in sorted(pinned):
            yield pytest.param(name, scenario, pinned[scenario], id=f"{name}:{scenario}")


def test_every_adapter_has_expectations():
    assert len(PINNED) >= 6, PINNED
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
    got = frozenset(result.labels())
    if got not in pinned:
        expected = pins.load_expectations(name)
        version = adapter.version()
        note = "" if version == expected["version"] else (
            f"\n  the client changed: pinned with {expected['version']!r}, now {version!r}")
        pytest.fail(f"{name} on {scenario}: pinned {pins.show_pin(pinned)}, got "
                    f"{sorted(got) or 'pass'}{note}\n{result.explain()}", pytrace=False)
    assert (result.verdict == "pass") == (not got)
    assert (result.verdict == "off-script") == (pins.OFF_SCRIPT in got)
    # Every oracle that fired is a label, and the reverse.
    assert set(result.oracles()) == got & harness.oracle_ids(), result.explain()


# A sanity floor per protocol: the plain deferred handshake.
FLOOR = {"smtp": "control/hotmail-2009.smtp", "imap": "control/deferred-handshake.imap"}


@pytest.mark.parametrize("name", PINNED)
def test_each_pinned_client_passes_the_plain_deferred_handshake(name):
    """Every SMTP client delivers the article's session; every IMAP client
    logs in after a plain STARTTLS."""
    for protocol in adapters.load_adapter(name).protocols:
        assert pins.load_expectations(name)["scenarios"][FLOOR[protocol]] == {frozenset()}
