"""The catalogue against the client under test: `test_scenario` is the
plugin's (starttls_mock/catalogue.py, the same test other projects import),
run here over scenarios/; and the catalogue's own rules."""

from __future__ import annotations

import pytest

from starttls_mock import harness
from starttls_mock.catalogue import test_scenario  # noqa: F401


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
