"""The editors' page of ``trace serve``: paste an article or a URL, get the side-by-side report.

A plain form (no scripts at all, no external files): it works in any browser, on a phone,
and under a Content-Security-Policy that forbids everything but inline styles.
"""

from __future__ import annotations

import html

from tracer.report._views import REPORT_CSS

_PAGE_CSS = """
.tool { max-width: 1280px; margin: 0 auto; padding: 12px 16px; }
.tool h1 { font-size: 1.35rem; margin: 4px 0 8px; }
.tool form { display: grid; gap: 8px; }
.tool textarea { width: 100%; min-height: 12rem; font: inherit; padding: 8px; border: 1px solid #d1d5db;
                 border-radius: 6px; }
.tool input { font: inherit; padding: 6px 8px; border: 1px solid #d1d5db; border-radius: 6px; }
.tool .line { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; }
.tool .line label { display: flex; gap: 6px; align-items: center; white-space: nowrap; }
.tool .line label.grow { flex: 1 1 18rem; min-width: 0; }
.tool .line label.grow input { flex: 1; min-width: 0; }
.tool button { font: inherit; padding: 8px 14px; border-radius: 6px; border: 1px solid #1f2937; background: #fff;
               cursor: pointer; }
.tool button.primary { background: #1f2937; color: #fff; }
.tool .error { color: var(--bad); border: 1px solid var(--bad); border-radius: 6px; padding: 8px 12px; }
.tool .hint { color: var(--no); font-size: .9rem; margin: 0; }
.report { border-top: 2px solid #1f2937; margin-top: 12px; }
"""


def page(values: dict[str, str] | None = None, *, report_html: str | None = None, error: str | None = None,
         token_field: bool = False) -> str:  # fmt: skip
    """The page, with the form refilled from ``values`` and the report (already escaped HTML) below."""
    v = {k: html.escape(values.get(k, "") if values else "") for k in ("text", "url", "before")}
    token = ('<label>Token <input type="password" name="token" autocomplete="current-password" required></label>'
             if token_field else "")  # fmt: skip
    error_html = f'<p class="error" role="alert">Error: {html.escape(error)}</p>' if error else ""
    report = f'<section class="report" aria-label="report">{report_html}</section>' if report_html else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tracer: where did this article come from?</title>
<style>{REPORT_CSS}{_PAGE_CSS}</style>
</head>
<body>
<div class="tool">
<h1>tracer: where did each sentence come from?</h1>
<p class="hint">Paste an Indonesian article (or give its URL). Each sentence is matched against the
English, Russian and Ukrainian reports in the index.</p>
<form method="post" action="/">
<textarea name="text" aria-label="article text" placeholder="Paste the article here">{v["text"]}</textarea>
<div class="line">
<label class="grow">or URL <input type="url" name="url" value="{v["url"]}" placeholder="https://..."></label>
<label>article date <input type="date" name="before" value="{v["before"]}"></label>
{token}
</div>
<div class="line">
<button class="primary" type="submit" name="format" value="html">Trace</button>
<button type="submit" name="format" value="json">Download JSON</button>
<button type="submit" name="format" value="markdown">Download Markdown</button>
</div>
</form>
{error_html}
</div>
{report}
</body>
</html>
"""
