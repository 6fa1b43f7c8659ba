"""JSONL validation: each bad line is named with its number, and a bad file yields nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index import check_jsonl, document_from_record, parse_published, read_jsonl
from tracer import InputError

GOOD = {
    "url": "https://a.example/1",
    "outlet": "A",
    "lang": "en",
    "title": "T",
    "published": "2024-11-05",
    "text": "One. Two.",
}


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_valid_documents(tmp_path: Path) -> None:
    second = {**GOOD, "url": "https://a.example/2", "published": None, "title": None}
    docs = read_jsonl(write(tmp_path / "d.jsonl", json.dumps(GOOD), "", json.dumps(second)))
    assert [(d.meta.url, d.meta.published, d.meta.title) for d in docs] == [
        ("https://a.example/1", "2024-11-05", "T"),
        ("https://a.example/2", None, ""),
    ]


def test_bad_lines_are_reported_with_numbers_and_nothing_is_returned(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.jsonl",
        json.dumps(GOOD),
        "{not json",
        json.dumps({**GOOD, "url": "https://a.example/3", "lang": "de"}),
        json.dumps({**GOOD, "url": "https://a.example/4", "published": "5 Nov 2024"}),
        json.dumps({k: v for k, v in GOOD.items() if k != "text"}),
    )
    with pytest.raises(InputError) as err:
        read_jsonl(path)
    assert str(err.value) == (
        f"{path}: 4 bad lines, nothing added from this file: "
        "line 2: not valid JSON (Expecting property name enclosed in double quotes at column 2); "
        "line 3: \"lang\" must be one of en, ru, uk, got 'de'; "
        "line 4: \"published\" must be an ISO 8601 date or datetime like 2024-11-05 or 2024-11-05T09:30:00+03:00, got '5 Nov 2024'; "
        "line 5: missing field text"
    )


def test_duplicate_url_in_one_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", json.dumps(GOOD), json.dumps(GOOD))
    with pytest.raises(InputError, match=r"line 2: url https://a.example/1 already given on line 1"):
        read_jsonl(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no documents (the file is empty)"),
        (b"\xff\xfe{}", "not UTF-8 (byte 0xff at offset 0); JSONL must be UTF-8"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_jsonl(path)
    assert str(err.value) == f"{path}: {message}"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_jsonl(tmp_path / "nope.jsonl")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-11-05", "2024-11-05"),
        ("2024-11-05T09:30:00Z", "2024-11-05T09:30:00+00:00"),
        ("2024-11-05T09:30:00+03:00", "2024-11-05T09:30:00+03:00"),
        (None, None),
    ],
)
def test_published_is_normalized(value: str | None, expected: str | None) -> None:
    assert parse_published(value) == expected


def test_an_article_given_to_index_add_is_recognised(tmp_path: Path) -> None:
    path = write(tmp_path / "artikel.txt", "Kremlin menyebut laporan itu berita palsu.", "", "Peskov berbicara.")
    with pytest.raises(InputError) as err:
        read_jsonl(path)
    assert str(err.value) == (
        f"{path}: plain text, not JSON Lines: it looks like an article; `trace {path}` traces it, and "
        "`trace index add` takes one JSON document per line (url, outlet, lang, title, published, text)"
    )


@pytest.mark.parametrize(
    "url",
    ["https://evil.example/e><img src=x onerror=alert(1)>", "https://a.example/x\n<script>", "https://a.example/a b",
     "https://a.example/\x00"],
)  # fmt: skip
def test_urls_with_characters_no_url_may_hold_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match='"url" must not contain spaces, control characters'):
        document_from_record({**GOOD, "url": url})


@pytest.mark.parametrize(("field", "value", "code"), [("outlet", "Reu\x00ters", "0000"), ("outlet", "\x1b[31mTASS", "001B"),
                                                     ("title", "Breaking \u202etxet", "202E"), ("title", "a\u2066b", "2066")])  # fmt: skip
def test_control_and_bidi_characters_in_names_and_titles_are_refused(field: str, value: str, code: str) -> None:
    with pytest.raises(ValueError, match=f'"{field}" holds the control character U\\+{code}'):
        document_from_record({**GOOD, field: value})


def test_line_breaks_in_names_and_titles_become_spaces() -> None:
    doc = document_from_record({**GOOD, "outlet": " The\tGuardian ", "title": "Line one\nline two"})
    assert (doc.meta.outlet, doc.meta.title) == ("The Guardian", "Line one line two")


@pytest.mark.parametrize("url", ["http://", "https://", "http:///path", "http://[::1/"])
def test_a_url_without_a_host_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match='"url" must name a host'):
        document_from_record({**GOOD, "url": url})


def test_a_runaway_line_is_refused_in_bounded_memory_and_others_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path / "hostile.jsonl",
        json.dumps(GOOD),
        json.dumps({**GOOD, "url": "https://a.example/2", "outlet": "J\ud800"}),  # a lone surrogate
        "[" * 100_000,  # nesting deep enough to exhaust the parser's recursion
        json.dumps({**GOOD, "url": "https://a.example/3", "text": "x" * 3000}),
        json.dumps({**GOOD, "url": "https://a.example/4", "text": "y" * 1500}),
    )
    with pytest.raises(InputError) as err:
        check_jsonl(path, max_chars=2000)
    assert str(err.value) == (
        f"{path}: 3 bad lines, nothing added from this file: "
        'line 2: "outlet" holds a lone surrogate (\\ud800-\\udfff escape): not text; '
        "line 3: the document is longer than 2,000 characters; pass --max-doc-chars N to raise the limit; "
        "line 4: the document is longer than 2,000 characters; pass --max-doc-chars N to raise the limit"
    )
    # with the default limit the nesting is read, and refused as no document
    with pytest.raises(InputError, match="line 3: JSON nested too deeply to be a document"):
        check_jsonl(path)
