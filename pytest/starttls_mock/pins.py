"""Pins: what each third-party client is expected to do on each scenario,
written as labels in pytest/expected/<client>.toml. A label is an oracle id
or one of the verdict's own reasons, named from its structured fields
(label()), never parsed from its text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starttls_mock import harness, paths

EXPECTED = paths.HARNESS / "expected"

OFF_SCRIPT = "off script"
CLIENT_HANG = "client hang"
NO_CONNECTION = "no connection"


def label(reason: dict) -> str:
    """One reason (harness.reason) as a label, from its kind and fields:
    an oracle id, "expected X, observed Y", "client exited 0, not delivered"
    (or "client exited N, delivered"), "client hang" (killed at its
    deadline) or "no connection". An oracle id the binary does not define,
    or an unknown kind, is an error."""
    kind = reason.get("kind")
    if kind == "oracle":
        if reason["oracle"] not in harness.oracle_ids():
            raise ValueError(f"a finding of an unknown oracle {reason['oracle']!r}: {reason}")
        return reason["oracle"]
    if kind == "outcome":
        return f"expected {reason['expected']}, observed {reason['observed']}"
    if kind == "client-exit":
        return (f"client exited {reason['status']}, {reason['goal']}" if reason["reached"]
                else f"client exited 0, not {reason['goal']}")
    if kind == "client-hang":
        return CLIENT_HANG
    if kind == "no-connection":
        return NO_CONNECTION
    raise ValueError(f"a reason of unknown kind: {reason!r}")


PASS = "pass"


def expectations_path(client: str) -> Path:
    return EXPECTED / f"{client}.toml"


def load_expectations(client: str) -> dict:
    """{"version": ..., "command": ..., "scenarios": {scenario: alternatives}}:
    each pin is a set of allowed label sets (the empty set is a pass). A
    scenario whose outcome depends on scheduling is pinned as
    `{ any = ["pass", ["oracle"]] }`, and any other outcome still fails."""
    return load_expectations_file(expectations_path(client))


def load_expectations_file(path: Path) -> dict:
    """load_expectations() of any pins file (a project's own, `--pins`);
    a ValueError names the file (`file:line:col: ...` for malformed TOML)."""
    data = harness.read_toml(path)

    def one(value) -> frozenset:
        return frozenset() if value == PASS else frozenset(value)

    pins = {}
    for scenario, value in data.get("scenarios", {}).items():
        if isinstance(value, dict):
            pins[scenario] = frozenset(one(v) for v in value["any"])
        else:
            pins[scenario] = frozenset({one(value)})
    return {"version": data.get("version", ""), "command": data.get("command", ""),
            "recorded": data.get("recorded", {}), "scenarios": pins}


def mismatch(result, pinned: frozenset | None, expected: Callable[[], dict]) -> str | None:
    """Why a run (running.Result) does not do what its pin records, or None
    when it does. `expected` gives the pins file (load_expectations), read
    only on a mismatch, for the version the pins were recorded with."""
    got = frozenset(result.labels())
    if pinned is None:
        return (f"{result.name} is not pinned: got {sorted(got) or PASS}; record "
                "the client's pins again and review the diff")
    if got in pinned:
        return None
    version, was = result.adapter.version(), expected()["version"]
    note = "" if version == was else (
        f"\n  the client changed: pinned with {was!r}, now {version!r}")
    return (f"{result.adapter.name} on {result.name}: pinned {show_pin(pinned)}, got "
            f"{sorted(got) or PASS}{note}\n{result.explain()}")


def show_pin(alternatives) -> str:
    out = [sorted(a) if a else PASS for a in sorted(alternatives, key=sorted)]
    return str(out[0]) if len(out) == 1 else "any of " + str(out)


# The [recorded] table of a pin file: how its pins were obtained.
RECORDED_FIELDS = {
    "runs": "runs of every scenario, at least, behind these pins",
    "loaded_runs": "of them, runs with busy processes competing for the cores",
    "busy": "busy processes during the loaded runs",
    "jobs": "scenarios run at once",
    "cores": "cores of the machine",
    "earlier_outcomes": "outcomes of recordings before run counts were kept are merged in",
    "date": "the last recording",
}


def toml_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_expectations(client: str, version: str, command: str,
                       results: dict[str, set[frozenset[str]]], header: str = "",
                       recorded: dict | None = None, path: Path | None = None,
                       recorded_with: str = "") -> Path:
    """results: scenario -> the label sets seen (more than one: unstable).
    recorded: how (RECORDED_FIELDS), written as the file's [recorded] table.
    path: where (default pytest/expected/<client>.toml), written whole or
    not at all."""
    def one(labels) -> str:
        return toml_string(PASS) if not labels else \
            "[" + ", ".join(toml_string(x) for x in sorted(labels)) + "]"

    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += [f"# Recorded with: {recorded_with or f'pytest/record_expectations.py {client}'}",
              "# A scenario with { any = [...] } gave different outcomes from run to run.",
              "", f"version = {toml_string(version)}", f"command = {toml_string(command)}", ""]
    if recorded:
        lines.append("[recorded]")
        for key, meaning in RECORDED_FIELDS.items():
            value = recorded[key]
            shown = toml_string(value) if isinstance(value, str) else \
                str(value).lower() if isinstance(value, bool) else str(value)
            lines.append(f"{key} = {shown}  # {meaning}")
        lines.append("")
    lines += ["[scenarios]"]
    for scenario in sorted(results):
        seen = sorted(results[scenario], key=sorted)
        value = one(seen[0]) if len(seen) == 1 else \
            "{ any = [" + ", ".join(one(x) for x in seen) + "] }"
        lines.append(f"{toml_string(scenario)} = {value}")
    path = Path(path or expectations_path(client))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(path)
    return path
