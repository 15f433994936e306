"""`starttls-mock certs`: the catalogue it writes, what `openssl verify` says
about every profile, and bad input refused with one line and nothing left
behind."""

from __future__ import annotations

import json
import re
import stat
import subprocess
from pathlib import Path

import pytest

from starttls_mock import harness


HOST = "mail.example.test"
LOOPBACK = "127.0.0.1"


def certs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(harness.binary("starttls-mock")), "certs", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def profiles() -> list[dict]:
    result = certs("--list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("catalogue") / "out"
    result = certs("--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def split_pem(path: Path) -> list[str]:
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n",
                      path.read_text(), re.S)


def openssl_verify(out: Path, profile: dict, tmp_path: Path,
                   identity: list[str] | None = None) -> int:
    """Runs `openssl verify` as a correct client would check the server's
    chain and returns the verify error code (0 when it verifies)."""
    certs_sent = split_pem(out / profile["name"] / "chain.pem")
    leaf = tmp_path / f"{profile['name']}-leaf.pem"
    leaf.write_text(certs_sent[0])
    argv = ["openssl", "verify", "-CAfile", str(out / "ca.pem"),
            "-purpose", "sslserver", "-auth_level", "2"]
    if len(certs_sent) > 1:
        untrusted = tmp_path / f"{profile['name']}-untrusted.pem"
        untrusted.write_text("".join(certs_sent[1:]))
        argv += ["-untrusted", str(untrusted)]
    if identity is None:
        identity = (["-verify_ip", LOOPBACK] if profile["identity"] == "ip-address"
                    else ["-verify_hostname", HOST])
    argv += identity
    if profile["needs_crl"]:
        argv += ["-crl_check_all", "-CRLfile", str(out / profile["name"] / "crl.pem")]
    result = subprocess.run([*argv, str(leaf)], capture_output=True, text=True,
                            timeout=30)
    if result.returncode == 0:
        return 0
    match = re.search(r"^error (\d+) at \d+ depth lookup", result.stdout + result.stderr,
                      re.M)
    assert match, f"{profile['name']}: {result.stdout}{result.stderr}"
    return int(match.group(1))


def test_list_prints_one_row_per_profile_of_the_json(profiles):
    result = certs("--list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[0] == "PROFILE"
    rows = [line.split() for line in lines[1:]]
    assert [row[0] for row in rows] == [p["name"] for p in profiles]
    for line, p in zip(lines[1:], profiles):
        assert p["verify_error"] in line
        assert line.endswith(p["twin"] or "-")


def test_json_documents_every_fault_with_a_good_twin(profiles):
    by_name = {p["name"]: p for p in profiles}
    assert len(by_name) == len(profiles)
    for name in ["valid", "expired", "not-yet-valid", "expired-intermediate",
                 "wrong-host", "cn-matches-san-does-not", "wildcard-too-broad",
                 "ip-mismatch", "self-signed", "untrusted-root",
                 "untrusted-root-not-sent", "incomplete-chain", "bad-signature",
                 "sha1-signature", "rsa-1024", "no-serverauth-eku",
                 "ku-without-digitalsignature", "ca-as-leaf", "intermediate-not-ca",
                 "pathlen-exceeded", "name-constraints-violation",
                 "unknown-critical-extension", "revoked", "cn-only-no-san", "no-eku"]:
        assert name in by_name
    for p in profiles:
        assert p["description"] and p["fault"]
        assert p["verify_error"].startswith("X509_V_")
        if p["good"]:
            assert p["twin"] is None and p["verify_code"] == 0
            continue
        twin = by_name[p["twin"]]
        assert twin["good"] and twin["identity"] == p["identity"]
        if p["policy_dependent"]:
            assert p["verify_code"] == 0 and p["strict"]["verify_code"] != 0
        else:
            assert p["verify_code"] != 0 and p["alert"]
    assert {p["name"] for p in profiles if p["policy_dependent"]} == {
        "cn-only-no-san", "no-eku"}


def test_out_writes_the_documented_layout_with_private_keys_0600(catalogue, profiles):
    assert (catalogue / "ca.pem").is_file()
    assert len(split_pem(catalogue / "ca.pem")) == 1
    expected = {"ca.pem"} | {p["name"] for p in profiles}
    assert {e.name for e in catalogue.iterdir()} == expected
    # Nothing but the target was created beside it: no temporary directory.
    assert [e.name for e in catalogue.parent.iterdir()] == ["out"]
    for p in profiles:
        files = {e.name for e in (catalogue / p["name"]).iterdir()}
        assert files == ({"chain.pem", "key.pem", "crl.pem"} if p["needs_crl"]
                         else {"chain.pem", "key.pem"}), p["name"]
        key_mode = stat.S_IMODE((catalogue / p["name"] / "key.pem").stat().st_mode)
        assert key_mode == 0o600, p["name"]


def test_openssl_verify_reports_each_profiles_documented_error(catalogue, profiles,
                                                                tmp_path):
    wrong = []
    for p in profiles:
        code = openssl_verify(catalogue, p, tmp_path)
        if code != p["verify_code"]:
            wrong.append(f"{p['name']}: documented {p['verify_error']} "
                         f"({p['verify_code']}), openssl verify says {code}")
    assert not wrong, "\n".join(wrong)


def test_hosts_and_profiles_select_what_is_issued(tmp_path, profiles):
    out = tmp_path / "out"
    result = certs("--out", str(out), "--host", "a.example.test", "--host", "192.0.2.9",
                   "--profile", "valid", "--profile", "ip-mismatch")
    assert result.returncode == 0, result.stderr
    assert {e.name for e in out.iterdir()} == {"ca.pem", "valid", "ip-mismatch"}
    by_name = {p["name"]: p for p in profiles}
    valid = by_name["valid"]
    assert openssl_verify(out, valid, tmp_path, ["-verify_hostname", "a.example.test"]) == 0
    assert openssl_verify(out, valid, tmp_path, ["-verify_ip", "192.0.2.9"]) == 0
    assert openssl_verify(out, valid, tmp_path, ["-verify_hostname", HOST]) != 0
    mismatch = by_name["ip-mismatch"]
    assert openssl_verify(out, mismatch, tmp_path,
                          ["-verify_ip", "192.0.2.9"]) == mismatch["verify_code"]


@pytest.mark.parametrize("args, needle", [
    (["--profile", "no-such-profile"], "no-such-profile"),
    (["--host", "bad_host.example.test"], "bad_host.example.test"),
    (["--host", "127.0.0.1"], "DNS name"),
    (["--host", "x.invalid"], "x.invalid"),
], ids=["unknown-profile", "invalid-host", "ip-only", "reserved-host"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, args, needle):
    out = tmp_path / "out"
    result = certs("--out", str(out), *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and needle in result.stderr, result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_non_empty_out_is_refused_and_left_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    result = certs("--out", str(out))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not empty" in result.stderr
    assert [e.name for e in out.iterdir()] == ["mine.txt"]
    assert [e.name for e in tmp_path.iterdir()] == ["out"]


def test_unwritable_out_is_refused_with_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = certs("--out", str(blocker / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and str(blocker) in result.stderr
    assert [e.name for e in tmp_path.iterdir()] == ["file"]


def test_existing_empty_out_is_filled(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = certs("--out", str(out), "--profile", "valid")
    assert result.returncode == 0, result.stderr
    assert {e.name for e in out.iterdir()} == {"ca.pem", "valid"}


@pytest.mark.parametrize("args", [[], ["--json"], ["--list", "--out", "x"]],
                         ids=["nothing", "json-without-list", "list-and-out"])
def test_usage_errors_exit_2_with_one_line(args):
    result = certs(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
