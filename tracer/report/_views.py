"""Views of a report for people: a terminal view, Markdown for chat and CMS notes, and a
self-contained HTML page (side by side, works offline, readable on a laptop and a phone)."""

from __future__ import annotations

import html
import re
import shutil
import textwrap
from urllib.parse import quote

from tracer.report._report import Match, Report, SentenceResult

FORMATS = ("json", "text", "markdown", "html")
SUFFIX = {"json": ".json", "text": ".txt", "markdown": ".md", "html": ".html"}


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return report.to_json()  # JSON escapes control characters itself
    return {"text": render_text, "markdown": render_markdown, "html": render_html}[fmt](report)


NEAR_MISSES = 3
"""Candidates shown for a sentence that is not traced: an editor can check them by eye."""
VERDICTS = {"traced": "TRACED", "possible": "POSSIBLE SOURCE", "no_source": "NO SOURCE"}


def _headline(report: Report) -> str:
    traced = sum(1 for s in report.sentences if s.status == "traced")
    possible = sum(1 for s in report.sentences if s.status == "possible")
    maybe = f", {possible} possible" if possible else ""
    return (f"{report.article.get('name')}: {traced} of {len(report.sentences)} sentences traced{maybe} "
            f"(model {report.model.get('name')}, threshold {report.decision.get('threshold'):.2f})")  # fmt: skip


def _near_misses(s: SentenceResult) -> list[Match]:
    """The candidates shown for an untraced sentence (after a possible source, the others), each
    text once: the same wire sentence at several outlets is one near miss."""
    seen = {" ".join(s.matches[0].text.split())} if s.status == "possible" and s.matches else set()
    out = []
    for m in s.matches[1 if s.status == "possible" else 0 : NEAR_MISSES]:
        key = " ".join(m.text.split())
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def render_text(report: Report, width: int | None = None) -> str:
    """A terminal view: each Indonesian sentence, its verdict, and the original it came from."""
    width = width or min(shutil.get_terminal_size((100, 24)).columns, 120)
    out: list[str] = []
    out.append(_headline(report))
    out.extend(f"warning: {w}" for w in report.warnings)
    out.append("")
    for s in report.sentences:
        best = s.matches[0] if s.matches else None
        score = f" {best.score:.2f}" if best else ""
        out.extend(textwrap.wrap(f"[{s.index}] {VERDICTS[s.status]}{score}  {s.text}", width, subsequent_indent="    "))
        if best and s.status in ("traced", "possible"):
            where = " · ".join(x for x in (best.lang, best.outlet, best.published or "date unknown") if x)
            arrow = "<-" if s.status == "traced" else "<? check:"
            out.extend(
                textwrap.wrap(
                    f"{arrow} {where}: {best.text}", width, initial_indent="    ", subsequent_indent="       "
                )
            )
            out.append(f"       {best.url}")
            for c in s.also_in:
                out.extend(textwrap.wrap(f"also in {c.outlet} ({c.published or 'date unknown'}) {c.url}", width,
                                         initial_indent="    ", subsequent_indent="       "))  # fmt: skip
        if s.status != "traced":
            for m in _near_misses(s):
                out.extend(textwrap.wrap(f"nearest ({m.outlet}, {m.lang}, {m.score:.2f}): {m.text}", width,
                                         initial_indent="    ", subsequent_indent="       "))  # fmt: skip
        if s.attribution is not None:
            a = s.attribution
            mark = {True: "ok", False: "MISMATCH", None: "?"}[a.agrees]
            out.extend(textwrap.wrap(f"credit [{mark}]: {a.note}", width, initial_indent="    ",
                                     subsequent_indent="       "))  # fmt: skip
        for f in s.flags:
            out.extend(
                textwrap.wrap(f"! {f.kind}: {f.note}", width, initial_indent="    ", subsequent_indent="       ")
            )
        out.append("")
    if report.sources:
        out.append("Sources, most used first:")
        for src in report.sources:
            sents = ", ".join(str(i) for i in src.sentences)
            first = ", earliest" if src.earliest else ""
            out.append(
                f"  {src.outlet} ({src.lang}, {src.published or 'date unknown'}{first}) {src.url}  sentences {sents}"
            )
    else:
        out.append("No source found for any sentence.")
    return _clean("\n".join(out)) + "\n"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 and C1 control characters but tab and newline: ESC/OSC sequences from a page or a feed
must never reach an editor's terminal (retitling it, clearing it) through a human view."""


def _clean(text: str) -> str:
    return _CONTROL.sub("", text)


def _md(text: str) -> str:
    """Text in Markdown: controls dropped, line breaks folded (no injected headings or blocks),
    metacharacters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(_clean(text).split()))


def _md_url(url: str) -> str:
    """A URL as a Markdown autolink: everything that could end it or start markup percent-encoded."""
    return "<" + quote(_clean(url), safe=":/?#[]@!$&'()*+,;=%~-._") + ">"


def render_markdown(report: Report) -> str:
    """Paste-ready: one block per sentence, originals quoted, flags and credit checks as bullets."""
    out = [f"### {_md(_headline(report))}", ""]
    out.extend(f"> warning: {_md(w)}" for w in report.warnings)
    for s in report.sentences:
        best = s.matches[0] if s.matches else None
        score = f" {best.score:.2f}" if best else ""
        out.append(f"**[{s.index}] {VERDICTS[s.status]}{score}** {_md(s.text)}")
        if best and s.status in ("traced", "possible"):
            if s.status == "possible":
                out.append("> *possible source, to check:*  ")
            out.append(f"> {_md(best.text)}  ")
            out.append(
                f"> — {_md(best.outlet)}, {best.lang}, {_md(best.published or 'date unknown')}: {_md_url(best.url)}"
            )
            out.extend(
                f"- also in {_md(c.outlet)} ({_md(c.published or 'date unknown')}): {_md_url(c.url)}" for c in s.also_in
            )
        if s.status != "traced":
            out.extend(f"- nearest ({_md(m.outlet)}, {m.lang}, {m.score:.2f}): {_md(m.text)} {_md_url(m.url)}"
                       for m in _near_misses(s))  # fmt: skip
        if s.attribution is not None:
            mark = {True: "credit ok", False: "**credit mismatch**", None: "credit unchecked"}[s.attribution.agrees]
            out.append(f"- {mark}: {_md(s.attribution.note)}")
        out.extend(f"- **{f.kind}**: {_md(f.note)}" for f in s.flags)
        out.append("")
    if report.sources:
        out.append("**Sources, most used first**")
        out.append("")
        for src in report.sources:
            first = ", earliest" if src.earliest else ""
            sents = ", ".join(str(i) for i in src.sentences)
            out.append(f"- {_md(src.outlet)} ({src.lang}, {_md(src.published or 'date unknown')}{first}): {_md_url(src.url)} "
                       f"— sentences {sents}")  # fmt: skip
    else:
        out.append("No source found for any sentence.")
    return _clean("\n".join(out)) + "\n"


def _marked(text: str, spans: list[str]) -> str:
    """``text`` escaped, with the first occurrence of each span wrapped in <mark>."""
    ranges = []
    for span in spans:
        if not span:
            continue
        i = text.find(span)
        if i >= 0 and not any(a < i + len(span) and i < b for a, b in ranges):
            ranges.append((i, i + len(span)))
    out, pos = [], 0
    for a, b in sorted(ranges):
        out.append(html.escape(text[pos:a]))
        out.append(f"<mark>{html.escape(text[a:b])}</mark>")
        pos = b
    out.append(html.escape(text[pos:]))
    return "".join(out)


_CSS = """
:root { --ok: #1f7a3a; --no: #6b7280; --warn: #b45309; --bad: #b91c1c; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #111827;
       overflow-wrap: break-word; }
.notes a { overflow-wrap: anywhere; }
header, main, footer { max-width: 1280px; margin: 0 auto; padding: 12px 16px; overflow-x: hidden; }
h1 { font-size: 1.25rem; margin: 0 0 4px; }
.meta { color: var(--no); font-size: .9rem; }
.row { display: grid; grid-template-columns: 3rem 1fr 1fr 14rem 4.5rem; gap: 12px; padding: 10px 0;
       border-top: 1px solid var(--line); border-left: 4px solid var(--no); padding-left: 8px; }
.row > * { min-width: 0; }
.row.traced { border-left-color: var(--ok); }
.row.flagged { border-left-color: var(--warn); }
.row.mismatch { border-left-color: var(--bad); }
.head { font-weight: 600; color: var(--no); border-left-color: transparent; }
.idx { color: var(--no); }
.orig { color: #374151; }
.src a { overflow-wrap: break-word; }
.score { font-variant-numeric: tabular-nums; text-align: right; }
.verdict { font-size: .75rem; font-weight: 600; text-transform: uppercase; }
.traced .verdict { color: var(--ok); } .no_source .verdict { color: var(--no); } .possible .verdict { color: var(--warn); }
.row.possible { border-left-color: var(--warn); border-left-style: dashed; }
.near { margin: 4px 0 0; padding-left: 1.1rem; color: var(--no); font-size: .9rem; }
.notes { grid-column: 2 / -1; margin: 0; padding-left: 1.2rem; font-size: .9rem; }
.notes .flag { color: var(--warn); } .notes .mismatch { color: var(--bad); } .notes .ok { color: var(--ok); }
mark { background: #fde68a; }
.nearest { color: var(--no); font-style: italic; }
@media (max-width: 760px) {
  .row { grid-template-columns: 2.2rem 1fr; }
  .head { display: none; }
  .orig, .src, .score { grid-column: 2; }
  .score { text-align: left; }
  .score::before { content: "score "; color: var(--no); }
  .notes { grid-column: 1 / -1; }
}
"""


def _row(s: SentenceResult) -> str:
    best = s.matches[0] if s.matches else None
    traced = s.status == "traced"
    classes = ["row", s.status]
    if s.flags:
        classes.append("flagged")
    if s.attribution is not None and s.attribution.agrees is False:
        classes.append("mismatch")
    sentence = _marked(s.text, [f.article for f in s.flags])
    if best and s.status in ("traced", "possible"):
        label = "" if traced else '<div class="verdict">possible source, to check</div>'
        original = label + _marked(best.text, [f.source for f in s.flags])
        where = (f'{html.escape(best.outlet)} · {best.lang}<br><a href="{html.escape(best.url)}">'
                 f'{html.escape(best.title or best.url)}</a><br>{html.escape(best.published or "date unknown")}')  # fmt: skip
    else:
        original, where = ('<span class="nearest">nearest candidates below</span>' if best
                           else '<span class="nearest">no candidates</span>'), ""  # fmt: skip
    if not traced and _near_misses(s):
        original += (
            '<ol class="near">'
            + "".join(
                f'<li lang="{m.lang}">{html.escape(m.text)} <span class="nearest">— {html.escape(m.outlet)}, '
                f'{m.score:.2f}, <a href="{html.escape(m.url)}">link</a></span></li>'
                for m in _near_misses(s)
            )
            + "</ol>"
        )
    score = f"{best.score:.2f}" if best else "–"
    notes = []
    for c in s.also_in if traced else []:
        notes.append(f'<li>also in {html.escape(c.outlet)} ({html.escape(c.published or "date unknown")}) '
                     f'<a href="{html.escape(c.url)}">{html.escape(c.url)}</a></li>')  # fmt: skip
    if s.attribution is not None:
        cls = {True: "ok", False: "mismatch", None: ""}[s.attribution.agrees]
        notes.append(f'<li class="{cls}">credit: {html.escape(s.attribution.note)}</li>')
    notes.extend(f'<li class="flag"><b>{html.escape(f.kind)}</b>: {html.escape(f.note)}</li>' for f in s.flags)
    verdict = {"traced": "traced", "possible": "possible source", "no_source": "no source"}[s.status]
    return (
        f'<div class="{" ".join(classes)}" id="s{s.index}"><div class="idx">{s.index}</div>'
        f'<div class="sent"><div class="verdict">{verdict}</div>{sentence}</div>'
        f'<div class="orig" lang="{best.lang if best else ""}">{original}</div><div class="src">{where}</div>'
        f'<div class="score">{score}</div>' + (f'<ul class="notes">{"".join(notes)}</ul>' if notes else "") + "</div>"
    )


def page_title(report: Report) -> str:
    """The article's file name or URL, not where it sits on the disk."""
    name = str(report.article.get("name"))
    return name if "://" in name else name.replace("\\", "/").rsplit("/", 1)[-1]


def render_html_body(report: Report) -> str:
    """The report's header, rows and sources (escaped), for a page of its own or the service's page."""
    rows = "\n".join(_row(s) for s in report.sentences)
    sources = (
        "".join(
            f"<li>{html.escape(src.outlet)} ({src.lang}, {html.escape(src.published or 'date unknown')}"
            f'{", earliest" if src.earliest else ""}) <a href="{html.escape(src.url)}">{html.escape(src.url)}</a>'
            f" — sentences {', '.join(str(i) for i in src.sentences)}</li>"
            for src in report.sources
        )
        or "<li>No source found for any sentence.</li>"
    )
    warnings = "".join(f'<p class="meta">warning: {html.escape(w)}</p>' for w in report.warnings)
    return _clean(f"""<header>
<h1>{html.escape(_headline(report))}</h1>
<p class="meta">tracer {html.escape(report.tracer_version)} · index of {report.index.get("documents")} documents ·
{html.escape(str(report.decision.get("operating_point", "")))}</p>
{warnings}
</header>
<main>
<div class="row head"><div>#</div><div>Indonesian sentence</div><div>Original</div><div>Outlet, link, date</div><div class="score">Score</div></div>
{rows}
</main>
<footer>
<h2 style="font-size:1rem">Sources, most used first</h2>
<ul>{sources}</ul>
</footer>""")


REPORT_CSS = _CSS


def render_html(report: Report) -> str:
    """One self-contained page: no scripts, no external files, every text escaped."""
    return _clean(f"""<!DOCTYPE html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tracer: {html.escape(page_title(report))}</title>
<style>{_CSS}</style>
</head>
<body>
{render_html_body(report)}
</body>
</html>
""")
