"""Every scenario of the catalogue against the reference client: each must
pass, judged by the server from the wire and by the client's exit status."""

from __future__ import annotations

import pytest

import harness


@pytest.mark.parametrize(
    "scenario", harness.scenario_files(),
    ids=lambda p: str(p.relative_to(harness.SCENARIOS)))
def test_reference_client_passes(scenario, tmp_path):
    result = harness.run_scenario(scenario, tmp_path, harness.reference_argv)
    assert result.verdict.passed, result.explain()


def test_the_catalogue_covers_every_category():
    categories = {p.parent.name for p in harness.scenario_files()}
    assert categories >= {"control", "ordering", "truncation", "injection",
                          "stripping", "certificates", "tls", "timing",
                          "reconnect"}
    assert len(harness.scenario_files()) >= 45


def test_the_scenario_readme_lists_every_scenario():
    readme = (harness.SCENARIOS / "README.md").read_text()
    missing = [str(p.relative_to(harness.SCENARIOS)) for p in harness.scenario_files()
               if f"`{p.relative_to(harness.SCENARIOS)}`" not in readme]
    assert not missing, f"scenarios/README.md does not list {missing}"
