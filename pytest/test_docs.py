"""The documentation's tables against the binary: the oracle tables list
exactly the oracles `starttls-mock oracles --json` defines, in its order,
and the scenario catalogue in scenarios/README.md has one row per scenario
file with the Expect and Summary the server's parser reads."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from starttls_mock import harness


ROW = re.compile(r"^\| `([^`]+)` \|(.*)$")
README = harness.ROOT / "scenarios" / "README.md"
CATALOGUE = "## The catalogue"


def rows_after(path: Path, heading: str, whole_section: bool = False
               ) -> list[tuple[str, list[str]]]:
    """The rows (the first cell, in backticks, and the other cells) of the
    first table after a heading line, or of every table up to the end when
    whole_section."""
    lines = path.read_text().splitlines()
    rows, in_table = [], False
    for line in lines[lines.index(heading) + 1:]:
        if line.startswith("|"):
            in_table = True
            if m := ROW.match(line):
                cells = [c.strip().replace("\\|", "|")
                         for c in re.split(r"(?<!\\)\|", m[2])][:-1]
                rows.append((m[1], cells))
        elif in_table and not whole_section:
            break
    return rows


def oracle_table_problems(path: Path, heading: str) -> list[str]:
    ids = [row[0] for row in rows_after(path, heading)]
    want = [o["id"] for o in harness.oracles()]
    return [] if ids == want else [f"{path}: the oracle table lists {ids}, the binary {want}"]


def family_expectation(expect: str) -> str:
    """A family member's expectation in the words its family file uses."""
    return "refuse" if expect == "refuse" else (
        "goal-or-refuse" if expect.endswith("-or-refuse") else "goal")


def catalogue_problems(readme: Path) -> list[str]:
    """A row per scenario file: a family file's row stands for its members."""
    facts = {}
    for d in harness.describe_scenarios(harness.scenario_files()):
        source = Path(d["source"])
        if source.suffix == harness.FAMILY_SUFFIX:
            d = {**d, "expect": family_expectation(d["expect"])}
        facts[str(source.relative_to(harness.SCENARIOS))] = d
    problems, seen = [], set()
    for name, cells in rows_after(readme, CATALOGUE, whole_section=True):
        if name in seen:
            problems.append(f"{name}: two rows")
        seen.add(name)
        if name not in facts:
            problems.append(f"{name}: no such scenario")
        elif cells[:2] != [facts[name]["expect"], facts[name]["summary"]]:
            problems.append(f"{name}: the row says {cells[:2]}, the scenario "
                            f"{[facts[name]['expect'], facts[name]['summary']]}")
    problems += [f"{name}: no row" for name in sorted(set(facts) - seen)]
    return problems


@pytest.mark.parametrize("path, heading", [
    (harness.ROOT / "docs" / "oracles.md", "| oracle | the client... |"),
    (README, "## Oracles"),
])
def test_the_oracle_tables_list_the_binarys_oracles_in_its_order(path, heading):
    assert oracle_table_problems(path, heading) == []


def test_an_oracle_table_with_a_retyped_id_is_caught(tmp_path):
    doc = tmp_path / "oracles.md"
    first, *rest = [o["id"] for o in harness.oracles()]
    doc.write_text("## Oracles\n\n| id | rule |\n|---|---|\n"
                   + "".join(f"| `{i}` | x |\n" for i in [first + "s", *rest]))
    assert oracle_table_problems(doc, "## Oracles") != []


def test_the_catalogue_has_one_row_per_scenario_with_its_expect_and_summary():
    assert catalogue_problems(README) == []


def test_a_stale_catalogue_is_caught(tmp_path):
    hotmail = harness.scenario_facts(harness.SCENARIOS / "control" / "hotmail-2009.smtp")
    doc = tmp_path / "README.md"
    doc.write_text(f"{CATALOGUE}\n\n| scenario | expect | shows |\n|---|---|---|\n"
                   "| `control/gone.smtp` | deliver | x |\n"
                   f"| `control/hotmail-2009.smtp` | refuse | {hotmail['summary']} |\n")
    problems = catalogue_problems(doc)
    assert any(p.startswith("control/gone.smtp: no such scenario") for p in problems)
    assert any(p.startswith("control/hotmail-2009.smtp: the row says") for p in problems)
    assert any(p.startswith("control/responder-only.smtp: no row") for p in problems)


NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())}


def test_the_field_bug_count_is_the_catalogues():
    text = (harness.ROOT / "docs" / "field-bugs.md").read_text()
    m = re.search(r"holds (\w+) documented client bugs, (\w+) in\s+SMTP, (\w+) in IMAP and "
                  r"(\w+) in POP3", text)
    assert m, "docs/field-bugs.md no longer counts the field bugs"
    said = tuple(NUMBERS[w] for w in m.groups())
    field = [p for p in harness.scenario_files() if p.parent.name == "field"]
    count = {s: sum(p.suffix == s for p in field) for s in (".smtp", ".imap", ".pop3")}
    assert said == (len(field), count[".smtp"], count[".imap"], count[".pop3"])


def test_every_scenario_the_scenario_docs_name_exists():
    """The peers' tables name scenarios in backticks; each must be in the
    catalogue."""
    named = set(re.findall(r"`([a-z0-9-]+/[a-z0-9.-]+\.(?:smtp|imap|pop3|scenario))`",
                           README.read_text()))
    catalogue = {harness.relative(p) for p in harness.scenario_files()} | \
        {harness.relative(p) for p in harness.source_files()}
    assert named - catalogue == set()
    assert len(named) > 100


# --help against the command-line documentation: every option a binary's
# --help lists is in the synopsis the docs give for that command (one of an
# option's aliases is enough), and every option a synopsis names exists.

def help_text(*argv: str | Path) -> str:
    done = subprocess.run([str(a) for a in argv] + ["--help"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def help_options(*argv: str | Path) -> list[tuple[str, ...]]:
    """The options `argv --help` lists, each as the tuple of its --names."""
    options = []
    for line in help_text(*argv).split("Options:", 1)[1].split("\n\n", 1)[0].splitlines():
        if line.startswith("  -"):
            names = line.split()[0].split(",")
            options.append(tuple(n for n in names if n.startswith("--")))
    return options


def synopses(path: Path, command: str) -> dict[str, str]:
    """The synopsis lines of a doc's code blocks, by their first word after
    `command` (for starttls-mock the subcommand; "" for starttls-client),
    continuation lines (indented) joined to the line they continue."""
    found: dict[str, str] = {}
    current, fenced = None, False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced, current = not fenced, None
        elif fenced and line.startswith(command):
            words = line[len(command):].split()
            current = words[0] if words and not words[0].startswith("-") else ""
            found[current] = found.get(current, "") + " " + line
        elif fenced and current is not None and line.startswith(" "):
            found[current] += " " + line
        else:
            current = None
    return found


def help_problems(binary: str, sub: str, synopsis: str) -> list[str]:
    argv = [harness.binary(binary), *([sub] if sub else [])]
    name = " ".join([binary, sub]).strip()
    listed = help_options(*argv)
    documented = set(re.findall(r"--[a-z0-9][a-z0-9-]*", synopsis))
    problems = [f"{name}: {names[0]} is in --help, not in the docs"
                for names in listed if names != ("--help",) and not documented & set(names)]
    known = {n for names in listed for n in names}
    problems += [f"{name}: the docs name {o}, which --help does not list"
                 for o in sorted(documented - known)]
    return problems


COMMAND_LINE = harness.ROOT / "docs" / "command-line.md"
REFERENCE_CLIENT = harness.ROOT / "docs" / "reference-client.md"
MOCK = "build/bin/starttls-mock"


def mock_subcommands() -> list[str]:
    listed = help_text(harness.binary("starttls-mock")).split("Subcommands:", 1)[1]
    return [line.split()[0] for line in listed.splitlines() if line.startswith("  ")]


def test_the_subcommand_table_lists_the_binarys_subcommands_in_its_order():
    assert [row[0] for row in rows_after(COMMAND_LINE, "| subcommand | what it does | where |")] \
        == mock_subcommands()


@pytest.mark.parametrize("sub", mock_subcommands())
def test_every_option_of_a_subcommand_is_in_its_documented_synopsis(sub):
    assert help_problems("starttls-mock", sub, synopses(COMMAND_LINE, MOCK).get(sub, "")) == []


def test_the_top_level_options_are_documented():
    text = COMMAND_LINE.read_text()
    for names in help_options(harness.binary("starttls-mock")):
        assert f"`starttls-mock {names[0]}`" in text, names


def test_every_option_of_the_reference_client_is_in_its_documented_synopsis():
    assert help_problems("starttls-client", "",
                         synopses(REFERENCE_CLIENT, "starttls-client")[""]) == []


def test_a_synopsis_missing_an_option_or_naming_a_gone_one_is_caught(tmp_path):
    doc = tmp_path / "command-line.md"
    doc.write_text(COMMAND_LINE.read_text().replace(" [--threads N]", " [--thread-count N]"))
    serve = synopses(doc, MOCK)["serve"]
    assert help_problems("starttls-mock", "serve", serve) == [
        "starttls-mock serve: --threads is in --help, not in the docs",
        "starttls-mock serve: the docs name --thread-count, which --help does not list",
    ]
