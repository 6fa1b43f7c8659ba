"""The outlets to crawl: ``configs/sources.toml`` (shipped) or a user's file of the same shape.

Errors name the file, the source, the key and its line: tomllib reports lines only for syntax
errors, so the line of a bad value is looked up in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tracer import ConfigError
from tracer._config import read_toml

from ._documents import SOURCE_LANGS
from ._fetch import FetchPolicy

_SOURCE_KEYS = {
    "name", "outlet", "lang", "groups", "feeds", "sitemaps", "allow", "deny", "delay", "max_articles", "allow_private",
    "api",
}  # fmt: skip
_CRAWLER_KEYS = {
    "user_agent", "concurrency", "connect_timeout", "read_timeout", "deadline", "max_bytes", "max_redirects",
    "retries", "backoff", "max_wait",
}  # fmt: skip
_API_KEYS = {"kind", "url", "key_env", "query", "section", "page_size"}


@dataclass(frozen=True)
class Pattern:
    """``http(s)://...`` is a URL prefix; anything else a regular expression searched in the URL."""

    text: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Pattern:
        if text.startswith(("http://", "https://")):
            return cls(text)
        return cls(text, re.compile(text))

    def matches(self, url: str) -> bool:
        return self._regex.search(url) is not None if self._regex else url.startswith(self.text)


@dataclass(frozen=True)
class GuardianApi:
    """The Guardian Open Platform content API: article text without scraping pages."""

    url: str = "https://content.guardianapis.com/search"
    key_env: str = "GUARDIAN_API_KEY"
    query: str = ""
    section: str = "world"
    page_size: int = 50


@dataclass(frozen=True)
class Source:
    name: str
    outlet: str
    langs: tuple[str, ...]
    """One language, or several detected per article (an outlet publishing in two)."""
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    allow: tuple[Pattern, ...] = ()
    deny: tuple[Pattern, ...] = ()
    delay: float = 1.0
    max_articles: int = 200
    allow_private: bool = False
    api: GuardianApi | None = None
    groups: tuple[str, ...] = ()
    """Groups a newsroom can crawl together (``--group wires``): kind of outlet, language."""

    def rule_for(self, url: str) -> str | None:
        """Why ``url`` is not an article page of this source, or None if it is."""
        if self.allow and not any(p.matches(url) for p in self.allow):
            return "not_allowed"
        if any(p.matches(url) for p in self.deny):
            return "denied"
        return None


@dataclass(frozen=True)
class CrawlConfig:
    path: str
    sources: tuple[Source, ...]
    policy: FetchPolicy

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(sorted({g for s in self.sources for g in s.groups}))

    def select(self, names: tuple[str, ...], groups: tuple[str, ...] = ()) -> tuple[Source, ...]:
        """The sources named, and those in any of ``groups``, in file order; all when neither is given."""
        if not names and not groups:
            return self.sources
        known = {s.name: s for s in self.sources}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(f"no source named {unknown[0]!r} in {self.path} (known: {', '.join(known)})")
        missing = [g for g in groups if g not in self.groups]
        if missing:
            raise ConfigError(f"no group named {missing[0]!r} in {self.path} (known: {', '.join(self.groups)})")
        return tuple(s for s in self.sources if s.name in names or set(s.groups) & set(groups))


def shipped_sources() -> Path:
    return Path(str(resources.files("tracer.configs").joinpath("sources.toml")))


def _line_of(text: str, source_index: int | None, key: str) -> int | None:
    """Line of ``key = ...`` inside the ``source_index``-th ``[[source]]`` table (or [crawler])."""
    lines = text.splitlines()
    start, seen = 0, -1
    if source_index is not None:
        for number, line in enumerate(lines):
            if re.match(r"\s*\[\[\s*source\s*\]\]", line):
                seen += 1
                if seen == source_index:
                    start = number
                    break
        else:
            return None
    for number in range(start, len(lines)):
        line = lines[number]
        if number > start and source_index is not None and re.match(r"\s*\[\[\s*source\s*\]\]", line):
            break
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number + 1
    return start + 1 if source_index is not None else None


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text

    def error(self, where: str, index: int | None, key: str, problem: str) -> ConfigError:
        line = _line_of(self.text, index, key.split(".")[-1])
        at = f", line {line}" if line else ""
        return ConfigError(f"{self.path}{at}: {where}{key} {problem}")

    def value(self, table: dict[str, object], key: str, kind: type | tuple[type, ...], where: str, index: int | None,
              default: object = None) -> object:  # fmt: skip
        if key not in table:
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.error(where, index, key, f"must be {_article(names)}, got {value!r}")
        return value

    def strings(self, table: dict[str, object], key: str, where: str, index: int | None) -> tuple[str, ...]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(where, index, key, f"must be a list of non-empty strings, got {value!r}")
        return tuple(v.strip() for v in value)


def _article(names: str) -> str:
    return ("an " if names[0] in "aeiou" else "a ") + {"str": "string", "int": "integer", "float": "number",
                                                       "bool": "boolean", "dict": "table"}.get(names, names)  # fmt: skip


def load_sources(path: Path | None = None) -> CrawlConfig:
    path = path or shipped_sources()
    text, data = read_toml(path, "sources file")
    r = _Reader(path, text)
    unknown = set(data) - {"crawler", "source"}
    if unknown:
        raise ConfigError(f"{path}: unknown table [{sorted(unknown)[0]}] (known: [crawler], [[source]])")
    crawler = data.get("crawler", {})
    if not isinstance(crawler, dict):
        raise ConfigError(f"{path}: [crawler] must be a table")
    bad = set(crawler) - _CRAWLER_KEYS
    if bad:
        raise r.error(
            "", None, f"crawler.{sorted(bad)[0]}", f"is not a known key (known: {', '.join(sorted(_CRAWLER_KEYS))})"
        )
    defaults = FetchPolicy()
    policy_args: dict[str, object] = {}
    for key in _CRAWLER_KEYS:
        kind = type(getattr(defaults, key))
        value = r.value(crawler, key, kind, "crawler.", None)
        if value is not None:
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise r.error("crawler.", None, key, f"must be positive, got {value!r}")
            policy_args[key] = value
    policy = FetchPolicy(**policy_args)  # type: ignore[arg-type]

    tables = data.get("source", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[source]] tables; add one per outlet")
    sources: list[Source] = []
    for i, table in enumerate(tables):
        name = table.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            raise r.error("", i, "name", f"must be a lowercase identifier like 'guardian', got {name!r}")
        where = f"source {name!r}: "
        bad = set(table) - _SOURCE_KEYS
        if bad:
            raise r.error(where, i, sorted(bad)[0], f"is not a known key (known: {', '.join(sorted(_SOURCE_KEYS))})")
        if name in {s.name for s in sources}:
            raise r.error(where, i, "name", "is used by two sources")
        outlet = r.value(table, "outlet", str, where, i)
        if not outlet or not str(outlet).strip():
            raise r.error(where, i, "outlet", "is required (the outlet's display name)")
        langs = r.strings(table, "lang", where, i)
        if not langs or any(lang not in SOURCE_LANGS for lang in langs):
            raise r.error(
                where,
                i,
                "lang",
                f"must be one of {', '.join(SOURCE_LANGS)} or a list of them, got {table.get('lang')!r}",
            )
        patterns: dict[str, tuple[Pattern, ...]] = {}
        for key in ("allow", "deny"):
            try:
                patterns[key] = tuple(Pattern.parse(p) for p in r.strings(table, key, where, i))
            except re.error as exc:
                raise r.error(where, i, key, f"has an invalid regular expression ({exc})") from None
        urls = {key: r.strings(table, key, where, i) for key in ("feeds", "sitemaps")}
        for key, values in urls.items():
            for url in values:
                if not url.startswith(("http://", "https://")):
                    raise r.error(where, i, key, f"must hold http(s) URLs, got {url!r}")
        api = None
        if "api" in table:
            spec = r.value(table, "api", dict, where, i)
            bad = set(spec) - _API_KEYS  # type: ignore[arg-type]
            if bad or spec.get("kind") != "guardian":  # type: ignore[union-attr]
                raise r.error(where, i, "api", "must be a table with kind = \"guardian\" and optional url, key_env, "
                              "query, section, page_size")  # fmt: skip
            api = GuardianApi(**{k: v for k, v in spec.items() if k != "kind"})  # type: ignore[union-attr]
        if not (urls["feeds"] or urls["sitemaps"] or api):
            raise r.error(where, i, "feeds", "missing: give feeds, sitemaps or an api table")
        groups = r.strings(table, "groups", where, i)
        bad_group = next((g for g in groups if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", g)), None)
        if bad_group is not None:
            raise r.error(where, i, "groups", f"must be lowercase identifiers like 'wires', got {bad_group!r}")
        delay = r.value(table, "delay", float, where, i, 1.0)
        if delay < 0:  # type: ignore[operator]
            raise r.error(where, i, "delay", f"must be >= 0, got {delay!r}")
        max_articles = r.value(table, "max_articles", int, where, i, 200)
        if max_articles < 1:  # type: ignore[operator]
            raise r.error(where, i, "max_articles", f"must be >= 1, got {max_articles!r}")
        sources.append(
            Source(
                name=name,
                outlet=str(outlet).strip(),
                langs=langs,
                feeds=urls["feeds"],
                sitemaps=urls["sitemaps"],
                allow=patterns["allow"],
                deny=patterns["deny"],
                delay=float(delay),  # type: ignore[arg-type]
                max_articles=int(max_articles),  # type: ignore[call-overload]
                allow_private=bool(r.value(table, "allow_private", bool, where, i, False)),
                api=api,
                groups=groups,
            )
        )
    return CrawlConfig(path=str(path), sources=tuple(sources), policy=policy)
