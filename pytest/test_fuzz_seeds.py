"""fuzz/seed_corpus.py --reports: recorded sessions become fuzzing seeds, one
per distinct client dialogue, from whichever reports hold them (the stream,
the session files, the aggregate report), and a report that is not JSON is
named by its position before anything is written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from starttls_mock import harness

SEED_CORPUS = Path(__file__).resolve().parent.parent / "fuzz" / "seed_corpus.py"
OVER_TLS = 2  # the session target's client kind for bytes inside TLS


def seed(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SEED_CORPUS), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_recorded_sessions_become_one_seed_per_distinct_client_dialogue(
        starttls_server, tmp_path):
    server = starttls_server(harness.scenario_file("hotmail-2009"),
                             extra_args=["--session-files"])
    harness.run_reference_sessions(server, 2)
    assert server.stop() == 0, server.stderr
    # Each session is in the stream, in its own file and in the aggregate.
    assert len(harness.streamed_sessions(server.stream_path)) == 2
    assert len(list((server.run_dir / "sessions").iterdir())) == 2
    assert len(server.sessions_reports()) == 2

    # Each kind of report alone gives the same seeds; all three together,
    # three copies of each session, give them once.
    sources = {"stream": [server.stream_path],
               "files": [server.run_dir / "sessions"],
               "aggregate": [server.report_path],
               "all": [server.stream_path, server.run_dir / "sessions",
                       server.report_path]}
    found = {}
    for name, paths in sources.items():
        folder = tmp_path / name
        folder.mkdir()
        for path in paths:
            (shutil.copytree if path.is_dir() else shutil.copy)(path, folder / path.name)
        corpus = tmp_path / f"corpus-{name}"
        done = seed("--reports", folder, "--corpus", corpus)
        assert done.returncode == 0, done.stderr
        # The scenario catalogue's seeds are not written with --reports.
        assert sorted(p.name for p in corpus.iterdir()) == ["responder", "session"]
        found[name] = sorted(p.read_bytes() for p in (corpus / "session").iterdir())
        responder = sorted(p.read_bytes() for p in (corpus / "responder").iterdir())
        assert responder == sorted(b"STARTTLS 8BITMIME\n" + d[2:] for d in found[name])
    # Two sessions whose messages' Message-IDs differ: two seeds.
    seeds = found["all"]
    assert len(seeds) == 2
    assert all(found[name] == seeds for name in sources)
    for data in seeds:
        assert data[:2] == bytes([1, OVER_TLS])
        assert data[2:].startswith(b"EHLO ") and data.endswith(b"QUIT\r\n")
        assert b"MAIL FROM:" in data


def test_a_folder_without_reports_gives_no_seeds(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("not a report\n")
    corpus = tmp_path / "corpus"
    done = seed("--reports", tmp_path / "run", "--corpus", corpus)
    assert done.returncode == 0, done.stderr
    assert not corpus.exists()


def test_a_report_that_is_not_json_is_named_by_file_line_and_column(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    good = '{"events": [{"from": "client", "layer": "plain", "data": "EHLO x\\r\\n"}]}'
    (run / "sessions.jsonl").write_text(f'{good}\n{{"events": [}}\n')
    corpus = tmp_path / "corpus"
    done = seed("--reports", run, "--corpus", corpus)
    assert done.returncode == 1
    assert done.stderr == f"seed_corpus.py: {run / 'sessions.jsonl'}:2:13: Expecting value\n"
    # Nothing written, not even the good session's seed.
    assert not corpus.exists()
