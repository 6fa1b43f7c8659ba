"""Every way an article file can be unusable gives one clear error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer import InputError
from tracer.tracing._article import read_article


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"  \n\t\n", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks like a binary file, not text; give a UTF-8 text file"),
        (
            b"Berita dari Moskwa hari ini. \xe9t\xe9",
            "not UTF-8 (byte 0xe9 at offset 29); convert it first, e.g. iconv -f windows-1252 -t utf-8 {path}",
        ),
        (b"x" * 101, "larger than the 100-byte limit for one article; pass --max-bytes N to raise it"),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "artikel.txt"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_article(str(path), max_bytes=100)
    assert str(err.value) == f"{path}: " + message.format(path=path)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_article(str(tmp_path / "nope.txt"))
    assert str(err.value) == f"{tmp_path / 'nope.txt'}: no such file"
    with pytest.raises(InputError) as err:
        read_article(str(tmp_path))
    assert str(err.value) == f"{tmp_path}: is a directory, expected a text file"


def test_bom_and_crlf_are_normalized(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffSatu.\r\nDua.\r".encode())
    assert read_article(str(path)).text == "Satu.\nDua.\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_with_a_bom_is_read_not_called_binary(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "a.txt"
    text = "Kremlin menyebut laporan itu berita palsu.\r\nРИА Новости.\r\n"
    raw = text.encode(encoding)
    path.write_bytes(raw if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else b"\xfe\xff" + raw)
    assert read_article(str(path)).text == text.replace("\r\n", "\n")


def test_a_broken_utf16_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xff\xfeS\x00a\x00\x00\xd8")  # a lone surrogate at the end
    with pytest.raises(InputError, match="starts like UTF-16 text but is not"):
        read_article(str(path))


def test_a_link_farm_or_a_huge_page_is_refused_before_extraction() -> None:
    from tracer.tracing._article import MAX_PAGE_BYTES, extract_page

    farm = b"<html><body>" + b"".join(b'<a href="/x%d">%d</a>' % (i, i) for i in range(60_000)) + b"</body></html>"
    assert len(farm) < MAX_PAGE_BYTES
    with pytest.raises(InputError, match=r"^https://farm\.example/: 60,000 links on the page: a link farm"):
        extract_page(farm, "https://farm.example/")
    with pytest.raises(InputError, match=r"bytes of HTML, more than the 5,000,000 an article page has$"):
        extract_page(b"<p>" + b"x" * MAX_PAGE_BYTES + b"</p>", "https://big.example/")
    page = "<html><body><article><p>" + "Pasukan tiba di Kursk pada hari Selasa. " * 20 + "</p></article></body></html>"
    assert "Pasukan tiba di Kursk" in extract_page(page, "https://ok.example/").text
