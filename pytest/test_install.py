"""starttls-mock from another project's CI: `cmake --install` into a scratch
prefix, then the example project (examples/outside-project: a client of its
own, its adapter file, its pins, a scenario of its own, its CI script)
copied outside the checkout and run with only the installed files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from starttls_mock import harness

EXAMPLE = harness.ROOT / "examples" / "outside-project"
PYTHON = "/usr/bin/python3"
# Nothing of the checkout: no STARTTLS_BUILD_DIR, no PYTHONPATH into pytest/.
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    prefix = tmp_path_factory.mktemp("prefix")
    done = subprocess.run(["cmake", "--install", str(harness.build_dir()), "--prefix",
                           str(prefix)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return prefix


def installed_python(prefix: Path, code: str) -> str:
    env = dict(CLEAN_ENV, PYTHONPATH=str(prefix / "lib/python3/dist-packages"))
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env, cwd=prefix)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_install_holds_the_binaries_the_catalogue_and_the_plugin(prefix):
    for name in ("starttls-mock", "starttls-client"):
        assert os.access(prefix / "bin" / name, os.X_OK), name
    data = prefix / "share/starttls-mock"
    installed = sorted(str(p.relative_to(data / "scenarios"))
                       for p in (data / "scenarios").rglob("*") if p.is_file())
    assert installed == sorted(str(p.relative_to(harness.SCENARIOS))
                               for p in harness.SCENARIOS.rglob("*") if p.is_file())
    assert (data / "pytest/clients/curl.toml").is_file()
    assert (data / "pytest/expected/curl.toml").is_file()
    assert (data / "pytest/smtplib_client.py").is_file()
    assert not list(data.rglob("test_*.py"))
    # The package finds the installed files, and pytest finds the plugin.
    where = installed_python(prefix, "from starttls_mock import paths; "
                                     "print(paths.ROOT, paths.build_dir())")
    assert where == f"{data} {prefix}"
    plugins = installed_python(prefix, "import importlib.metadata as m; print(sorted("
                                       "e.value for e in m.entry_points(group='pytest11')"
                                       " if e.name.startswith('starttls')))")
    assert plugins == "['starttls_mock.plugin']"


def test_the_installed_binaries_find_the_installed_catalogue_by_name(prefix, tmp_path):
    mock = str(prefix / "bin/starttls-mock")

    def described(*args: str) -> list[dict]:
        done = subprocess.run([mock, "scenario", "--json", *args], capture_output=True,
                              text=True, timeout=60, env=CLEAN_ENV, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    data = prefix / "share/starttls-mock/scenarios"
    [hotmail] = described("control/hotmail-2009")
    assert hotmail["path"] == str(data / "control/hotmail-2009.smtp")
    [member] = described("certificates/expired.pop3")
    assert member["source"] == str(data / "certificates/expired.scenario")
    assert len(described("--catalogue")) == len(harness.scenario_files())
    # Moved elsewhere, the install still finds its own catalogue.
    moved = tmp_path / "moved"
    shutil.copytree(prefix, moved, symlinks=True)
    done = subprocess.run([str(moved / "bin/starttls-mock"), "scenario", "--json",
                           "control/hotmail-2009"], capture_output=True, text=True,
                          timeout=60, env=CLEAN_ENV, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["path"].startswith(str(moved / "share"))
    # Without its share/, it does not fall back to the checkout it was built from.
    shutil.rmtree(moved / "share/starttls-mock/scenarios")
    done = subprocess.run([str(moved / "bin/starttls-mock"), "scenario", "control/hotmail-2009"],
                          capture_output=True, text=True, timeout=60, env=CLEAN_ENV, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, "control/hotmail-2009: no such file, and no catalogue to look in "
           "(STARTTLS_MOCK_SCENARIOS is not set)\n")
    # Both binaries say the version the Python package's metadata has.
    package = installed_python(prefix, "import importlib.metadata as m; "
                                       "print(m.version('starttls_mock'))")
    for name in ("starttls-mock", "starttls-client"):
        version = subprocess.run([str(prefix / "bin" / name), "--version"],
                                 capture_output=True, text=True, timeout=60)
        assert (version.returncode, version.stdout.strip()) == (0, package), name


def run_example(prefix: Path, tmp_path: Path, edit=None) -> tuple[subprocess.CompletedProcess,
                                                                   Path]:
    project = tmp_path / "elsewhere" / "mysmtp"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "junit.xml"))
    if edit:
        edit(project)
    done = subprocess.run(["sh", str(project / "ci.sh"), str(prefix)], capture_output=True,
                          text=True, timeout=600, env=dict(CLEAN_ENV, HOME=str(tmp_path)),
                          cwd=tmp_path)
    return done, project / "junit.xml"


def test_the_example_project_passes_with_only_the_installed_files(prefix, tmp_path):
    done, junit = run_example(prefix, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    cases = {c.get("name"): c for c in ET.parse(junit).iter("testcase")}
    smtp = [p for p in harness.scenario_files(("smtp",))]
    assert len(cases) == len(smtp) + 1, sorted(cases)
    assert "test_scenario[ours/starttls-in-lower-case.smtp]" in cases
    assert "test_scenario[certificates/wrong-host.smtp]" in cases
    assert not any(c.find("failure") is not None or c.find("error") is not None
                   for c in cases.values())
    # It ran the installed copy, not this checkout's.
    assert str(harness.ROOT) not in done.stdout
    assert f"rootdir: {junit.parent}" in done.stdout


def test_the_example_pins_fail_when_its_client_changes(prefix, tmp_path):
    """mysmtp stops checking the host name: the pin of
    certificates/wrong-host says it refused, so that test fails."""
    def stop_checking_the_host_name(project: Path) -> None:
        client = project / "mysmtp.py"
        text = client.read_text()
        line = "    context = ssl.create_default_context(cafile=args.cafile)\n"
        assert line in text
        client.write_text(text.replace(line, line + "    context.check_hostname = False\n"))

    done, junit = run_example(prefix, tmp_path, stop_checking_the_host_name)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr
    failed = sorted(c.get("name") for c in ET.parse(junit).iter("testcase")
                    if c.find("failure") is not None)
    assert "test_scenario[certificates/wrong-host.smtp]" in failed, failed
    assert ("mysmtp on certificates/wrong-host.smtp: pinned pass, got "
            "['expected refuse, observed delivered', 'proceeded-after-bad-certificate']"
            ) in done.stdout
