"""The eval report, markdown or a self-contained HTML page: per-scenario results with their failures, the metrics
table overall and per family, and what each metric means. All text from scenarios is escaped."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from evals._metrics import DEFINITIONS
from evals._runner import EvalResult
from evidence import ConfigError

MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")


def cell(entry: dict[str, Any] | None) -> str:
    """One metric as a reader wants it: the value with what it was computed over."""
    if not entry:
        return "n/a"
    if "proposed" in entry:
        return f"{entry['surfaced']} of {entry['proposed']} surfaced"
    value = entry.get("value")
    shown = "n/a" if value is None else f"{value:.3f}"
    if "denominator" in entry:
        return f"{shown} ({entry['numerator']}/{entry['denominator']})"
    return f"{shown} (n={entry.get('samples', 0)})"


def _rows(result: EvalResult) -> tuple[list[str], list[list[str]]]:
    overall, families = result.metrics["overall"], result.metrics["families"]
    header = ["metric", "overall", *families]
    rows = [[name, cell(overall.get(name)), *(cell(families[f].get(name)) for f in families)] for name in overall]
    return header, rows


def _title(result: EvalResult) -> str:
    return f"rca eval: {result.passed} passed, {result.failed} failed (composer: {result.composer})"


def _md(text: Any) -> str:
    """Text safe inside a markdown table cell or list item: no raw HTML, no column breaks, one line."""
    return html.escape(" ".join(str(text).split())).replace("|", "\\|")


def render_markdown(result: EvalResult) -> str:
    header, rows = _rows(result)
    lines = [f"# {_md(_title(result))}", "", "## Metrics", "",
             "| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    lines += ["", "## Scenarios", "", "| scenario | family | file | result |", "|---|---|---|---|"]
    lines += [f"| {_md(s.name)} | {_md(s.family)} | {_md(s.file)} | {'pass' if s.passed else '**FAIL**'} |"
              for s in result.scenarios]
    failed = [s for s in result.scenarios if not s.passed]
    if failed:
        lines += ["", "## Failures", ""]
        for s in failed:
            lines.append(f"- **{_md(s.name)}**")
            lines += [f"  - {_md(f)}" for f in s.failures]
    if result.oracle is not None:
        lines += ["", "## Labelled oracle", "", f"{result.oracle.answers} labelled model answers, "
                  f"{len(result.oracle.failures)} not handled as labelled.", ""]
        lines += [f"- {_md(f)}" for f in result.oracle.failures]
    lines += ["", "## Metric definitions", ""]
    lines += [f"- **{_md(name)}**: {_md(text)}" for name, text in DEFINITIONS.items()]
    return "\n".join(lines) + "\n"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.pass { color: #1a7f37; } .fail { color: #cf222e; font-weight: bold; }
td.num { font-variant-numeric: tabular-nums; }
"""


def render_html(result: EvalResult) -> str:
    e = html.escape
    header, rows = _rows(result)
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(_title(result))}</title>",
           f"<style>{_STYLE}</style></head><body>", f"<h1>{e(_title(result))}</h1>", "<h2>Metrics</h2>",
           "<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for row in rows:
        out.append(f"<tr><th>{e(row[0])}</th>" + "".join(f'<td class="num">{e(c)}</td>' for c in row[1:]) + "</tr>")
    out += ["</tbody></table>", "<h2>Scenarios</h2>",
            "<table><thead><tr><th>scenario</th><th>family</th><th>file</th><th>result</th><th>failures</th></tr>"
            "</thead><tbody>"]
    for s in result.scenarios:
        verdict = '<span class="pass">pass</span>' if s.passed else '<span class="fail">FAIL</span>'
        failures = "<ul>" + "".join(f"<li>{e(f)}</li>" for f in s.failures) + "</ul>" if s.failures else ""
        out.append(f"<tr><td>{e(s.name)}</td><td>{e(s.family)}</td><td>{e(s.file)}</td><td>{verdict}</td>"
                   f"<td>{failures}</td></tr>")
    out.append("</tbody></table>")
    if result.oracle is not None:
        out += ["<h2>Labelled oracle</h2>", f"<p>{result.oracle.answers} labelled model answers, "
                f"{len(result.oracle.failures)} not handled as labelled.</p>", "<ul>"]
        out += [f'<li class="fail">{e(f)}</li>' for f in result.oracle.failures]
        out.append("</ul>")
    out += ["<h2>Metric definitions</h2>", "<dl>"]
    out += [f"<dt><strong>{e(name)}</strong></dt><dd>{e(text)}</dd>" for name, text in DEFINITIONS.items()]
    out += ["</dl>", "</body></html>"]
    return "\n".join(out) + "\n"


def write_report(result: EvalResult, path: Path) -> None:
    """Markdown for .md, HTML for .html; any other suffix is a usage mistake."""
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        path.write_text(render_markdown(result), encoding="utf-8")
    elif suffix in HTML_SUFFIXES:
        path.write_text(render_html(result), encoding="utf-8")
    else:
        raise ConfigError(f"--report {path}: the report is markdown (.md) or HTML (.html), "
                          f"not {suffix or 'a file without a suffix'}.")
