"""The lines of a UTF-8 text file, read as they are needed rather than the whole file at once.

Every line-based input (.txt, .csv, .jsonl, a BEIR qrels file) starts here, so a file of a
few gigabytes costs memory for its rows, not a second and third copy of its bytes.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from simsearch.errors import InputError

_CHUNK = 1 << 20  # bytes a read while checking the encoding


def decoded_lines(path: Path) -> Iterator[str]:
    """The lines of a UTF-8 text file (a leading BOM dropped), decoded one by one so that an
    encoding error, a binary file included, is an InputError naming the line it is on.

    Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r``; the ends are not part of the line. The
    whole file's encoding is checked before the first line is given (a fast pass in blocks),
    so a bad byte anywhere is the error a reader meets first, as when files were read whole,
    and no reader acts on the first half of a file that turns out not to be text.
    """
    bad_line = _first_undecodable_line(path)
    if bad_line is not None:
        raise _not_utf8(path, bad_line)
    for number, raw in enumerate(_raw_lines(path), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:  # the file changed since the check
            raise _not_utf8(path, number) from None
        yield line[1:] if number == 1 and line.startswith("\ufeff") else line


def _first_undecodable_line(path: Path) -> int | None:
    """The number of the first line that is not UTF-8, or None when the whole file is.

    A line ending is never part of a multi-byte character, so the file decodes whole exactly
    when each of its lines does; the lines are decoded one by one only to name the bad one.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return None
    except UnicodeDecodeError:
        pass
    for number, raw in enumerate(_raw_lines(path), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return None


def _raw_lines(path: Path) -> Iterator[bytes]:
    """The file's lines as ``bytes.splitlines`` of the whole file gives them, one read at a time.

    A binary file splits after each ``\\n``; a ``\\r\\n`` pair never straddles two such pieces,
    so splitting each piece again on its lone ``\\r``s gives the whole file's lines exactly.
    """
    with open(path, "rb") as handle:
        for piece in handle:
            yield from piece.splitlines()


def _not_utf8(path: Path, number: int) -> InputError:
    return InputError(f"{path.name} line {number} is not valid UTF-8; re-save the file as UTF-8.")
