"""The HTML report in a real browser: Debian's chromium, headless, loads the
report from a file (no network: the page is self-contained), and the test
reads back what rendered. One test reads the DOM after layout (the page's
inline script records the sizes of the matrix and the ladders), one takes a
screenshot and finds the matrix's pass and fail colours in its pixels."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from starttls_mock import adapters, harness, report_html, running


CHROMIUM = shutil.which("chromium")
BROWSER_BUDGET = 90  # seconds for one headless chromium run
PASS_RGB = (0xc8, 0xef, 0xc8)
FAIL_RGB = (0xf6, 0xb8, 0xb8)

needs_chromium = pytest.mark.skipif(CHROMIUM is None,
                                    reason="chromium is not installed (tools/install-deps.sh)")


def doc_for(adapter: adapters.Adapter, scenarios: list[str], work: Path) -> dict:
    results = [running.run(harness.SCENARIOS / s, work / adapter.name / s, adapter).record()
               for s in scenarios]
    return {"client": adapter.name, "policy": adapter.policy, "command": adapter.command,
            "version": "", "started_at": "", "wall_time_s": 1.0, "workers": "1",
            "passed": sum(r["verdict"] == "pass" for r in results),
            "failed": sum(r["verdict"] != "pass" for r in results), "results": results}


SCENARIOS = ["certificates/wrong-host.smtp", "control/hotmail-2009.smtp",
             "ordering/starttls-reply-held.smtp"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """Two clients merged: the reference client, which passes, and
    bad_client with no-hostname-check, which proceeds on wrong-host."""
    work = tmp_path_factory.mktemp("report")
    buggy = adapters.command_adapter(
        f"{adapters.PYTHON} {adapters.HERE}/bad_client.py --host {{host}} --port {{port}} "
        "--cafile {cafile} --servername {servername} --timeout {timeout} "
        "--bug no-hostname-check", "require-tls")
    docs = [doc_for(adapters.load_adapter("reference"), SCENARIOS, work),
            doc_for(buggy, SCENARIOS, work)]
    assert [d["failed"] for d in docs] == [0, 1]
    (work / "a.json").write_text(json.dumps(docs[0]))
    (work / "b.json").write_text(json.dumps(docs[1]))
    out = work / "report.html"
    # The command line, as a user would merge two runs.
    subprocess.run([adapters.PYTHON, str(adapters.HERE / "starttls_mock" / "report_html.py"),
                    str(work / "a.json"), str(work / "b.json"), "-o", str(out)],
                   check=True, timeout=30)
    return out


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.external = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append((tag, name, value))


def test_the_report_is_self_contained(report):
    parser = Links()
    parser.feed(report.read_text())
    assert parser.external == []
    text = report.read_text()
    assert "<script src" not in text and "@import" not in text and "url(" not in text


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=BROWSER_BUDGET,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


@needs_chromium
def test_the_matrix_and_the_ladders_render(report, tmp_path):
    done = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    m = re.search(r'<body data-rendered="([^"]*)"', done.stdout)
    assert m, "the page's script did not run: " + done.stdout[:500]
    rendered = json.loads(m[1].replace("&quot;", '"'))
    assert rendered["matrix_rows"] == len(SCENARIOS)
    assert rendered["matrix_width"] > 300 and rendered["matrix_height"] > 40
    # 2 clients x 3 scenarios, one session each; the failed run is open, so
    # its ladder is laid out, with its arrows.
    assert rendered["ladders"] == 6
    assert rendered["ladders_shown"] >= 1 and rendered["arrows_shown"] >= 10
    # Both colours are in the matrix.
    assert len(rendered["cell_colours"]) == 2, rendered
    assert "rgb(246, 184, 184)" in rendered["cell_colours"]
    assert "rgb(200, 239, 200)" in rendered["cell_colours"]
    dom = done.stdout
    # The failing cell names its labels and links to its run.
    assert re.search(r'class="verdict fail"[^>]*><a href="#run-1-certificates/wrong-host.smtp">'
                     r'fail: expected refuse, observed delivered, '
                     r'proceeded-after-bad-certificate</a>', dom)
    # The ladder of the failing run marks where TLS began and the oracle hit.
    run = dom.split('id="run-1-certificates/wrong-host.smtp"', 1)[1].split("</details>", 1)[0]
    assert "TLS begins here" in run and "TLS established" in run
    assert '<line class="arrow tls hit"' in run
    assert "⚠ proceeded-after-bad-certificate" in run
    # A held reply shows its delay.
    held = dom.split('id="run-0-ordering/starttls-reply-held.smtp"', 1)[1]
    assert re.search(r'<text class="gap"[^>]*>\+2\d\d ms</text>', held)


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) pixels of an 8-bit PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + size]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + size
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xFF
            elif f == 2:
                line[x] = (line[x] + b) & 0xFF
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i:i + 3]) for r in rows for i in range(0, stride, bpp)]


@needs_chromium
def test_screenshot_shows_the_matrix_colours(report, tmp_path):
    shot = tmp_path / "report.png"
    done = chromium(tmp_path, "--virtual-time-budget=5000", "--window-size=1200,700",
                    "--hide-scrollbars", f"--screenshot={shot}", report.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1200, 700)
    counts = {rgb: pixels.count(bytes(rgb)) for rgb in (PASS_RGB, FAIL_RGB)}
    # Five passing cells and one failing cell, each many pixels wide.
    assert counts[PASS_RGB] > 5 * 500, counts
    assert counts[FAIL_RGB] > 500, counts
    assert counts[PASS_RGB] > counts[FAIL_RGB]


def test_the_matrix_and_each_clients_table_name_the_protocol():
    doc = {"client": "c", "policy": "require-tls", "results": [
        {"scenario": f"control/x.{p}", "protocol": p, "verdict": "pass", "expected": e,
         "observed": o, "labels": [], "oracles": [], "reasons": [], "sessions": []}
        for p, e, o in (("smtp", "deliver", "delivered"), ("imap", "log-in", "logged-in"))]}
    out = report_html.render([doc])
    assert "<th>scenario</th><th>protocol</th><th>expect</th>" in out
    assert "<td><code>control/x.imap</code></td><td>imap</td><td>log-in</td>" in out
    assert "<td><code>control/x.smtp</code></td><td>smtp</td><td>deliver</td>" in out
    assert re.search(r'<code>control/x\.imap</code></a></td><td>imap</td>'
                     r'<td class="pass">pass</td>', out)


def test_render_escapes_what_clients_send():
    doc = {"client": "<x>", "policy": "require-tls", "results": [{
        "scenario": "a/b.smtp", "verdict": "fail", "expected": "deliver",
        "observed": "refused", "labels": ["<script>"], "oracles": [], "reasons": [],
        "sessions": [{"events": [{"kind": "bytes", "from": "client", "layer": "plain",
                                  "t": 0.1, "offset": 0, "size": 9,
                                  "data": "<script>alert(1)</script>\r\n"}],
                      "oracles": [], "reasons": [], "tls": {}}]}]}
    out = report_html.render([doc])
    assert "<script>alert" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;\\r\\n" in out
    assert out.count("<script>") == 1  # the page's own
