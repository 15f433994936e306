"""Every scenario of the catalogue against the client under test (--client,
default the reference client; --client-cmd; --client-file; --client-policy):
each must pass, judged by the server from the wire and by the client's exit
status, or, with --pins FILE, do what the file pins for it.
Test id = the scenario's path under scenarios/; --scenario GLOB picks some."""

from __future__ import annotations

import pytest

from starttls_mock import harness


def test_scenario(starttls_result, starttls_client, starttls_record, starttls_pins):
    result = starttls_result  # the run, started ahead or run now (plugin.py)
    starttls_record(result)
    if starttls_pins is not None:  # --pins FILE: what the client is known to do
        starttls_pins(result)
        return
    if result.verdict == "off-script" and starttls_client.pinned:
        # The reference client follows every script; any other client may
        # take another legal path: neither pass nor fail, no oracle fired
        # (scenarios/README.md, "Other paths").
        pytest.skip(result.explain())
    assert result.verdict == "pass", result.explain()


def test_the_catalogue_covers_every_category():
    categories = {p.parent.name for p in harness.scenario_files()}
    assert categories >= {"control", "ordering", "truncation", "injection",
                          "stripping", "certificates", "tls", "timing",
                          "reconnect"}
    assert len(harness.scenario_files()) >= 45


def test_the_scenario_readme_lists_every_scenario():
    readme = (harness.SCENARIOS / "README.md").read_text()
    missing = [str(p.relative_to(harness.SCENARIOS)) for p in harness.source_files()
               if f"`{p.relative_to(harness.SCENARIOS)}`" not in readme]
    assert not missing, f"scenarios/README.md does not list {missing}"


def script_of(path) -> tuple[str, ...]:
    """What a scenario plays: its header fields and steps, without comments,
    blank lines and the Summary, which describe it and play nothing."""
    return (path.suffix,) + tuple(
        line.rstrip() for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith("Summary:"))


def test_no_two_scenarios_play_the_same_script():
    by_script: dict[tuple[str, ...], list[str]] = {}
    for path in harness.source_files():
        by_script.setdefault(script_of(path), []).append(harness.relative(path))
    same = [names for names in by_script.values() if len(names) > 1]
    assert same == [], f"scenarios that play the same script, counted twice: {same}"
