#!/usr/bin/python3
"""Renders one or more JSON reports of the catalogue (--report-json) as one
self-contained HTML file: no network, no external scripts or styles.

Usage: report_html.py REPORT.json... -o REPORT.html

- The matrix: scenarios as rows, one column per report (client and policy),
  green for pass, red for fail, amber for error; each cell links to the run.
- Per report, a table: scenario, verdict, expected, observed, oracles,
  client exit, duration.
- Per run, a ladder diagram for every session: the client's column on the
  left, the server's on the right, each segment an arrow with its bytes and
  time (a gap longer than 20 ms is drawn longer and labelled), TLS records
  dashed, data inside TLS in blue, a line where TLS began (and where it was
  established or failed), and each oracle hit marked on the arrow that
  caused it. Failed runs are open, the others folded.

A small inline script, after layout, writes what rendered into
<body data-rendered="...">, which the headless-browser test reads.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
from pathlib import Path

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:2em}h3{font-size:1em;margin:.3em 0}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#eee}
td.pass{background:#c8efc8}td.fail{background:#f6b8b8}td.error{background:#ffd98a}
td.off-script{background:#dde3f0}
td.none{background:#f4f4f4;color:#999}
td a{color:inherit;text-decoration:none;display:block}
code,.mono{font-family:ui-monospace,monospace;font-size:12px}
details.run{border:1px solid #ddd;margin:.4em 0;padding:.2em .6em}
details.run>summary{cursor:pointer}
details.run.fail>summary{color:#a00}details.run.error>summary{color:#a60}
details.run.off-script>summary{color:#345}
pre.stderr{white-space:pre-wrap;word-break:break-all;max-height:20em;overflow:auto;
background:#f7f7f7;border:1px solid #eee;padding:.3em;margin:.3em 0}
.reasons li{color:#a00}
svg.ladder{display:block;margin:.5em 0;background:#fcfcfc;border:1px solid #eee}
svg .plain{stroke:#222}svg .tls-record{stroke:#888;stroke-dasharray:4 3}
svg .tls{stroke:#1559c7}svg line.hit,svg polygon.hit{stroke:#d00;stroke-width:3}
svg text.finding{fill:#d00;font-weight:bold}
svg text{font:11px ui-monospace,monospace;fill:#222}
svg text.tls{fill:#1559c7}svg text.tls-record{fill:#777}svg text.hit{font-weight:bold}
svg text.gap{fill:#b06000}svg text.note{fill:#666;font-style:italic}
svg .tls-line{stroke:#1559c7;stroke-width:2}svg .tls-ok{stroke:#2a2;stroke-width:2}
svg .tls-bad{stroke:#d00;stroke-width:2}svg .col{stroke:#bbb;stroke-width:2}
"""

SCRIPT = """
addEventListener('load', function () {
  var ladders = document.querySelectorAll('svg.ladder'), shown = 0, arrows = 0;
  ladders.forEach(function (s) {
    var r = s.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) { shown++; arrows += s.querySelectorAll('line.arrow').length; }
  });
  var rows = document.querySelectorAll('#matrix tbody tr');
  var m = document.getElementById('matrix').getBoundingClientRect();
  var colours = {};
  document.querySelectorAll('#matrix td.verdict').forEach(function (td) {
    colours[getComputedStyle(td).backgroundColor] = true;
  });
  document.body.dataset.rendered = JSON.stringify({
    matrix_rows: rows.length, matrix_width: Math.round(m.width),
    matrix_height: Math.round(m.height), ladders: ladders.length,
    ladders_shown: shown, arrows_shown: arrows,
    cell_colours: Object.keys(colours).sort()});
  function openHash() {
    var t = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (t && t.tagName === 'DETAILS') t.open = true;
  }
  addEventListener('hashchange', openHash); openHash();
});
"""

CLIENT_X, SERVER_X, WIDTH = 150, 850, 1000
ROW = 26


def esc(s) -> str:
    return html.escape(str(s), quote=True)


def run_id(doc_index: int, scenario: str) -> str:
    return f"run-{doc_index}-{scenario}"


def show_bytes(text: str, limit: int = 70) -> str:
    shown = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


def finding_row(parts: list[str], oracles: list[str], y: float) -> float:
    """The oracles that fired on the event just drawn, on a row of their own
    between the columns: never over the bytes they mark, never past the
    right edge. Returns the next row's y."""
    parts.append(f'<text class="finding" x="{CLIENT_X + 10}" y="{y - 4:.0f}">'
                 f'⚠ {esc(show_bytes(", ".join(oracles), 100))}</text>')
    return y + ROW - 10


def ladder(session: dict) -> str:
    """One session as an SVG ladder diagram."""
    events = session.get("events", [])
    hits: dict[int, list[str]] = {}
    for o in session.get("oracles", []):
        for e in o.get("evidence") or []:
            if isinstance(e.get("event"), int):
                hits.setdefault(e["event"], []).append(o["id"])
    parts = []
    y = 40
    last_t = 0.0
    for i, e in enumerate(events):
        t = float(e.get("t", 0.0))
        gap = t - last_t
        if gap > 0.02:
            extra = min(90, 18 * math.log10(1 + gap * 1000))
            y += extra
            parts.append(f'<text class="gap" x="4" y="{y - extra / 2 + 4:.0f}">'
                         f'+{gap * 1000:.0f} ms</text>')
        last_t = t
        kind, side = e.get("kind"), e.get("from")
        stamp = f'<text x="4" y="{y + 4:.0f}">{t * 1000:.1f} ms</text>'
        if kind == "bytes":
            layer = e.get("layer", "plain")
            x1, x2 = (CLIENT_X, SERVER_X) if side == "client" else (SERVER_X, CLIENT_X)
            cls = f"arrow {layer}" + (" hit" if i in hits else "")
            if "data" in e:
                label = show_bytes(e["data"])
            else:
                label = f'TLS record, {e.get("size")} B: {e.get("hex", "")[:16]}…'
            full = e.get("data", e.get("hex", ""))
            title = (f'#{i} {side} {layer} t={t:.6f}s offset {e.get("offset")} '
                     f'size {e.get("size")}: {full}')
            head = x2 - 8 if x2 > x1 else x2 + 8
            parts.append(
                f'<g data-event="{i}"><title>{esc(title)}</title>'
                f'<line class="{cls}" x1="{x1}" y1="{y:.0f}" x2="{x2}" y2="{y + 10:.0f}"/>'
                f'<polygon points="{x2},{y + 10:.0f} {head},{y + 5:.0f} {head},{y + 14:.0f}" '
                f'class="{cls}" fill="currentColor"/>'
                f'<text class="{layer}{" hit" if i in hits else ""}" x="{min(x1, x2) + 10}" '
                f'y="{y - 3:.0f}">{esc(label)}</text>')
            parts.append(stamp + "</g>")
            y += ROW
            if i in hits:
                y = finding_row(parts, hits[i], y)
        elif kind in ("tls-start", "tls-established", "tls-failed"):
            cls = {"tls-start": "tls-line", "tls-established": "tls-ok",
                   "tls-failed": "tls-bad"}[kind]
            text = {"tls-start": "TLS begins here", "tls-established": "TLS established",
                    "tls-failed": "TLS failed"}[kind]
            note = e.get("note", "")
            parts.append(f'<g data-event="{i}" class="{kind}"><title>{esc(note)}</title>'
                         f'<line class="{cls}" x1="{CLIENT_X - 20}" y1="{y:.0f}" '
                         f'x2="{SERVER_X + 20}" y2="{y:.0f}"/>'
                         f'<text class="note" x="{CLIENT_X + 10}" y="{y - 4:.0f}">'
                         f'{esc(text)}{": " + esc(show_bytes(note, 80)) if note else ""}</text>'
                         + stamp + '</g>')
            y += ROW - 6
            if i in hits:
                y = finding_row(parts, hits[i], y)
        else:  # closed, note
            x = CLIENT_X if side == "client" else SERVER_X
            text = f'{side} {kind}: {e.get("note", "")}'
            anchor = "start" if side == "client" else "end"
            dx = 10 if side == "client" else -10
            parts.append(f'<g data-event="{i}"><text class="note{" hit" if i in hits else ""}" '
                         f'x="{x + dx}" y="{y + 4:.0f}" text-anchor="{anchor}">'
                         f'{esc(show_bytes(text, 60))}</text></g>')
            y += ROW - 6
            if i in hits:
                y = finding_row(parts, hits[i], y)
    height = y + 20
    head = (f'<svg class="ladder" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}">'
            f'<text x="{CLIENT_X - 20}" y="16" font-weight="bold">client</text>'
            f'<text x="{SERVER_X - 20}" y="16" font-weight="bold">server</text>'
            f'<line class="col" x1="{CLIENT_X}" y1="24" x2="{CLIENT_X}" y2="{height - 10:.0f}"/>'
            f'<line class="col" x1="{SERVER_X}" y1="24" x2="{SERVER_X}" y2="{height - 10:.0f}"/>')
    return head + "".join(parts) + "</svg>"


def session_block(session: dict) -> str:
    tls = session.get("tls", {})
    facts = [f'connection {session.get("connection")} (script connection '
             f'{session.get("script_connection")})',
             f'certificate {session.get("certificate")}',
             f'observed {session.get("observed")}', f'ended: {session.get("ended")}',
             "TLS " + (f'{tls.get("version")} {tls.get("cipher")}' if tls.get("established")
                       else f'not established {tls.get("error", "")}'),
             f'SNI {tls.get("sni") or "-"}']
    reasons = "".join(f"<li>{esc(r['text'])}</li>" for r in session.get("reasons", []))
    return (f'<h3>{esc(" · ".join(facts))}</h3>'
            + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")
            + ladder(session))


def run_block(doc_index: int, r: dict) -> str:
    verdict = r.get("verdict", "error")
    opened = " open" if verdict != "pass" else ""
    reasons = "".join(f"<li>{esc(x['text'])}</li>" for x in r.get("reasons", []))
    if r.get("error"):
        reasons += f"<li>error: {esc(r['error'])}</li>"
    evidence = "".join(
        f'<li><code>{esc(e.get("oracle"))}</code> connection {esc(e.get("connection"))}, '
        f'event {esc(e.get("event"))}, t={esc(e.get("t"))} s, offset {esc(e.get("offset"))}: '
        f'{esc(e.get("detail", ""))}</li>' for e in r.get("evidence", []))
    sessions = "".join(session_block(s) for s in r.get("sessions", []))
    stderr = (r.get("client_stderr") or "").strip()
    for note in r.get("off_script", []):
        reasons += f'<li class="off-script">{esc(note)}</li>'
    return (f'<details class="run {esc(verdict)}" id="{esc(run_id(doc_index, r["scenario"]))}"'
            f'{opened}><summary><b>{esc(r["scenario"])}</b>: {esc(verdict)} — expected '
            f'{esc(r.get("expected"))}, observed {esc(r.get("observed"))}; '
            f'{esc(r.get("summary", ""))}</summary>'
            + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")
            + (f"<p>Evidence:</p><ul>{evidence}</ul>" if evidence else "")
            + f'<p class="mono">client exit {esc(r.get("client_exit"))} after '
              f'{esc(r.get("client_wall_s"))} s (its per-step timeout '
              f'{esc(r.get("client_timeout_s"))} s); run {esc(r.get("duration_s"))} s</p>'
            + (f'<pre class="stderr">{esc(stderr)}</pre>' if stderr else "")
            + sessions + "</details>")


def column_name(doc: dict) -> str:
    return f'{doc.get("client")} ({doc.get("policy")})'


def render(docs: list[dict]) -> str:
    scenarios = sorted({r["scenario"] for d in docs for r in d.get("results", [])})
    by = [{r["scenario"]: r for r in d.get("results", [])} for d in docs]
    head = "".join(f"<th>{esc(column_name(d))}</th>" for d in docs)
    rows = []
    for s in scenarios:
        summary = next((b[s].get("summary", "") for b in by if s in b), "")
        expected = next((b[s].get("expected", "") for b in by if s in b), "")
        protocol = next((b[s].get("protocol", "") for b in by if s in b), "")
        cells = []
        for i, b in enumerate(by):
            r = b.get(s)
            if r is None:
                cells.append('<td class="verdict none">-</td>')
                continue
            v = r.get("verdict", "error")
            text = v if v == "pass" else f'{v}: {", ".join(r.get("labels", []))}'
            tip = (f'expected {r.get("expected")}, observed {r.get("observed")}; '
                   f'oracles: {", ".join(r.get("oracles", [])) or "none"}')
            cells.append(f'<td class="verdict {esc(v)}" title="{esc(tip)}">'
                         f'<a href="#{esc(run_id(i, s))}">{esc(text)}</a></td>')
        rows.append(f'<tr><td><code>{esc(s)}</code></td><td>{esc(protocol)}</td>'
                    f'<td>{esc(expected)}</td><td>{esc(summary)}</td>{"".join(cells)}</tr>')
    matrix = (f'<table id="matrix"><thead><tr><th>scenario</th><th>protocol</th>'
              f'<th>expect</th><th>shows</th>{head}</tr></thead>'
              f'<tbody>{"".join(rows)}</tbody></table>')

    sections = []
    for i, d in enumerate(docs):
        results = d.get("results", [])
        table_rows = "".join(
            f'<tr><td><a href="#{esc(run_id(i, r["scenario"]))}"><code>{esc(r["scenario"])}'
            f'</code></a></td><td>{esc(r.get("protocol", ""))}</td>'
            f'<td class="{esc(r.get("verdict"))}">{esc(r.get("verdict"))}</td>'
            f'<td>{esc(r.get("expected"))}</td><td>{esc(r.get("observed"))}</td>'
            f'<td>{esc(", ".join(r.get("oracles", [])))}</td>'
            f'<td>{esc(r.get("client_exit"))}</td><td>{esc(r.get("duration_s"))}</td></tr>'
            for r in results)
        sections.append(
            f'<h2 id="client-{i}">{esc(column_name(d))}</h2>'
            f'<p>{esc(d.get("version", ""))} · <code>{esc(d.get("command", ""))}</code><br>'
            f'{esc(d.get("passed"))} passed, {esc(d.get("failed"))} failed; wall time '
            f'{esc(d.get("wall_time_s"))} s with {esc(d.get("workers"))} workers; '
            f'started {esc(d.get("started_at"))}</p>'
            f'<table class="results"><thead><tr><th>scenario</th><th>protocol</th>'
            f'<th>verdict</th><th>expected</th><th>observed</th><th>oracles</th>'
            f'<th>client exit</th>'
            f'<th>duration (s)</th></tr></thead><tbody>{table_rows}</tbody></table>'
            + "".join(run_block(i, r) for r in results))
    title = "starttls-mock report: " + ", ".join(column_name(d) for d in docs)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<title>{esc(title)}</title><style>{CSS}</style></head><body>'
            f'<h1>{esc(title)}</h1>{matrix}{"".join(sections)}'
            f'<script>{SCRIPT}</script></body></html>\n')


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reports", nargs="+", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    args = p.parse_args(argv)
    docs = [json.loads(path.read_text()) for path in args.reports]
    args.output.write_text(render(docs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
