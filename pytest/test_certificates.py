"""The certificate catalogue against the reference client: every bad profile
is refused with OpenSSL's reason in the client's message, every good twin
delivers, and the server's report records the alert the client sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from starttls_mock import adapters, harness, running

PROFILES = harness.certificate_profiles()


def _scenario(name: str):
    return harness.SCENARIOS / "certificates" / f"{name}.smtp"


def test_every_profile_is_a_family_played_in_every_protocol_and_its_twin_is_good():
    by_name = {p["name"]: p for p in PROFILES}
    catalogue = {harness.relative(s) for s in harness.scenario_files()}
    # Every protocol the catalogue speaks, as the binary reads it.
    protocols = {harness.scenario_facts(s)["protocol"] for s in harness.scenario_files()}
    assert len(protocols) == 3
    for p in PROFILES:
        family = harness.SCENARIOS / "certificates" / f"{p['name']}{harness.FAMILY_SUFFIX}"
        assert family.is_file(), p["name"]
        members = harness.describe_scenarios([family])
        assert {m["protocol"] for m in members} == protocols, p["name"]
        for m in members:
            assert harness.relative(m["path"]) in catalogue, m["path"]
            assert (m["certificate"], m["source"], Path(m["path"]).suffix) == \
                (p["name"], str(family), "." + m["protocol"])
        if p["twin"]:
            assert by_name[p["twin"]]["good"], p["name"]


@pytest.mark.parametrize("profile", [p for p in PROFILES if p["must_be_refused"]],
                         ids=lambda p: p["name"])
def test_reference_client_refuses_and_names_the_reason(profile, tmp_path):
    result = running.run(_scenario(profile["name"]), tmp_path,
                         adapters.load_adapter("reference"))
    assert result.passed, result.explain()
    assert result.observed == "refused"
    assert result.client.returncode == 7, result.explain()  # certificate-rejected
    assert profile["verify_reason"] in result.client.stderr, result.client.stderr
    # What the client told the server, as the server saw it.
    assert result.sessions[0]["tls"]["client_alert"] == profile["alert"]


@pytest.mark.parametrize("profile", [p for p in PROFILES if p["good"]],
                         ids=lambda p: p["name"])
def test_good_twins_deliver(profile, tmp_path):
    result = running.run(_scenario(profile["name"]), tmp_path,
                         adapters.load_adapter("reference"))
    assert result.passed, result.explain()
    assert result.observed == "delivered"
