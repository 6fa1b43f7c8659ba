"""Configuration files: TOML whose tables mirror the commands (``[article]``, ``[index.add]``),
applied through click's ``default_map`` so the command line always wins."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import platformdirs

from tracer._errors import ConfigError

KNOWN_KEYS: dict[str, set[str]] = {
    "article": {"index", "format", "top_k", "threshold", "model", "max_bytes", "before"},
    "index.add": {"index", "model", "batch_docs", "max_doc_chars", "backend"},
    "index.stats": {"index", "format"},
    "index.build": {"index", "model", "sources", "config", "source", "since", "max_articles", "format", "backend"},
    "index.refresh": {"index", "sources", "config", "source", "since", "max_articles", "format", "backend"},
}


# Config keys are the long option names; click's default_map wants parameter names.
_PARAMETER = {"index": "index_dir", "format": "fmt", "sources": "sources_file", "config": "sources_file",
              "source": "source_names"}  # fmt: skip
"""``config`` is the old name of ``sources`` in [index.build] and [index.refresh]."""


def default_config_path() -> Path | None:
    """``TRACER_CONFIG`` if set, else ``tracer.toml`` in the OS user config directory if it exists."""
    env = os.environ.get("TRACER_CONFIG")
    if env:
        return Path(env)
    path = Path(platformdirs.user_config_dir("tracer")) / "tracer.toml"
    return path if path.is_file() else None


def read_toml(path: Path, what: str) -> tuple[str, dict[str, object]]:
    """The text and data of a TOML file; a missing or malformed file is a ConfigError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory, not a TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


def load_config(path: Path) -> dict[str, object]:
    """A click ``default_map``; unknown tables or keys are errors that name the key and the file."""
    _, data = read_toml(path, "config file")
    default_map: dict[str, object] = {}
    for section, values in data.items():
        if section == "index" and isinstance(values, dict):
            tables = {f"index.{k}": v for k, v in values.items()}
        else:
            tables = {section: values}
        for name, table in tables.items():
            if name not in KNOWN_KEYS or not isinstance(table, dict):
                raise ConfigError(f"{path}: unknown table [{name}] (known: {', '.join(sorted(KNOWN_KEYS))})")
            unknown = set(table) - KNOWN_KEYS[name]
            if unknown:
                raise ConfigError(
                    f"{path}: unknown key {name}.{sorted(unknown)[0]} (known in [{name}]: {', '.join(sorted(KNOWN_KEYS[name]))})"
                )
            target = default_map
            for part in name.split("."):
                target = target.setdefault(part, {})  # type: ignore[assignment]
            target.update({_PARAMETER.get(k, k): v for k, v in table.items()})  # type: ignore[attr-defined]
    return default_map
