"""Long texts read whole: a text longer than the model reads is split into overlapping windows of word pieces.

The model reads at most ``max_seq_length`` word pieces, special tokens included (256 for
all-MiniLM-L6-v2); the rest of a longer text would not count towards its vector. Such a
text is cut into windows of ``tokens`` pieces, each starting ``tokens - overlap`` pieces
after the one before, with its ends moved back to word boundaries. A window is then a span
of the original text (the passage) whose own tokenisation gives the same pieces, so it is
encoded as a text of its own, and ``simsearch check`` can re-encode it from the stored span.
Texts that fit are left whole: one vector, as without chunking.

Splitting uses the model's own tokenizer (its offsets and word ids, ``Encoder.word_pieces``),
so the pieces are the ones the model reads. Only texts that are too long are tokenised with offsets; finding them
uses the encoder's token counts, which every runtime has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simsearch.errors import InvalidArgumentError, fix
from simsearch.numbers import is_whole_number

if TYPE_CHECKING:
    from simsearch.encoders import Encoder

# The default overlap is an eighth of the window: 31 of all-MiniLM-L6-v2's 254 pieces, more than 95% of
# the sentences planted in the long-text set (STS-B dev pairs scored >= 4: mean 13.5 pieces, 95th
# percentile 32), so such a sentence cut by one window's end lies whole in the next. A quarter (63) made
# 10% more vectors there and scored lower nDCG@10: dense 13.85 against 17.22, hybrid 45.57 against 46.67
# (README, "Long texts"; `python benchmarks/longtext.py --windows 254/31,254/63`).
OVERLAP_FRACTION = 8


@dataclass(frozen=True)
class Chunking:
    """How to split long texts: windows of ``tokens`` word pieces overlapping by ``overlap``.

    ``tokens`` 0 turns splitting off (texts are cut at the model's limit, as the model does);
    ``None`` means the model's limit less its special tokens (254 for the default model), and
    an ``overlap`` of ``None`` an eighth of the window.
    """

    tokens: int | None = None
    overlap: int | None = None

    @property
    def enabled(self) -> bool:
        return self.tokens != 0


@dataclass(frozen=True)
class Passages:
    """What to encode for a list of documents: ``texts[i]`` belongs to document ``owners[i]``;
    ``spans[i]`` is its character span of that document's text, or None for a whole text."""

    texts: list[str]
    owners: list[int]
    spans: list[tuple[int, int] | None]


def resolve_chunking(encoder: Encoder, chunking: Chunking | None) -> Chunking:
    """``chunking`` with its defaults filled in for ``encoder``, checked; ``Chunking(0, 0)`` when off.

    The window may not exceed what the model reads (its limit less the special tokens), and
    the overlap must be smaller than the window, or the windows would never move on.
    """
    chunking = chunking or Chunking()
    limit = window_limit(encoder)
    tokens, overlap = chunking.tokens, chunking.overlap
    for value, what in ((tokens, "chunk_tokens"), (overlap, "chunk_overlap")):
        if value is not None and (not is_whole_number(value) or value < 0):
            raise InvalidArgumentError(f"{fix(what)} must be a whole number, 0 or more (got {value!r}).")
    if tokens == 0:
        return Chunking(0, 0)
    tokens = limit if tokens is None else tokens
    if tokens > limit:
        raise InvalidArgumentError(
            f"{fix('chunk_tokens')} is {tokens}, but model {encoder.name!r} reads at most "
            f"{limit} word pieces besides its special tokens; give {limit} or less "
            "(0: no chunking)."
        )
    overlap = tokens // OVERLAP_FRACTION if overlap is None else overlap
    if overlap >= tokens:
        raise InvalidArgumentError(
            f"{fix('chunk_overlap')} ({overlap}) must be smaller than {fix('chunk_tokens')} "
            f"({tokens}); give an overlap of at most {tokens - 1}."
        )
    return Chunking(tokens, overlap)


def window_limit(encoder: Encoder) -> int:
    """The most word pieces a window may hold: the model's limit less the special tokens it adds."""
    special = encoder.token_counts([""])[0]  # an empty text is its special tokens alone ([CLS] [SEP])
    return encoder.info.max_seq_length - special


def split_texts(encoder: Encoder, texts: Sequence[str], chunking: Chunking) -> Passages:
    """The passages to encode for ``texts``: each text whole, or its windows when longer than
    ``chunking.tokens`` pieces (``chunking`` resolved; with splitting off, every text whole)."""
    if not chunking.enabled:
        return Passages(list(texts), list(range(len(texts))), [None] * len(texts))
    tokens, overlap = int(chunking.tokens or 0), int(chunking.overlap or 0)
    special = encoder.token_counts([""])[0]
    counts = [
        count - special
        for start in range(0, len(texts), 1024)
        for count in encoder.token_counts(list(texts[start : start + 1024]))
    ]
    long = [i for i, count in enumerate(counts) if count > tokens]
    spans = dict(zip(long, passage_spans(encoder, [texts[i] for i in long], tokens, overlap)))
    passages = Passages([], [], [])
    for owner, text in enumerate(texts):
        for span in spans.get(owner, [None]):
            passages.texts.append(text if span is None else text[span[0] : span[1]])
            passages.owners.append(owner)
            passages.spans.append(span)
    return passages


def passage_spans(encoder: Encoder, texts: list[str], tokens: int, overlap: int) -> list[list[tuple[int, int]]]:
    """The character spans of each text's windows, in text order, from the model's own tokenizer
    (the runtime's: an ONNX encoder splits without torch)."""
    spans = []
    for start in range(0, len(texts), 256):
        for pieces in encoder.word_pieces(texts[start : start + 256]):
            words = pieces.words
            starts = [i == 0 or words[i] != words[i - 1] for i in range(len(words))]
            spans.append(
                [
                    (pieces.spans[first][0], pieces.spans[last - 1][1])
                    for first, last in token_windows(starts, tokens, overlap)
                ]
            )
    return spans


def token_windows(word_starts: Sequence[bool], tokens: int, overlap: int) -> list[tuple[int, int]]:
    """Windows ``[first, last)`` over pieces covering them all: at most ``tokens`` pieces each, ending where a
    word ends, and each starting at a word start at least ``overlap`` pieces before the previous one ended.

    ``word_starts[i]`` tells whether piece i begins a word. When a window holds too few words
    for that overlap, the next one starts at its second word; only a word longer than a whole
    window is cut inside.
    """
    count = len(word_starts)
    windows: list[tuple[int, int]] = []
    first = 0
    while True:
        last = min(first + tokens, count)
        if last < count:
            last = _last_word_start(word_starts, first + 1, last) or last
        windows.append((first, last))
        if last >= count:
            return windows
        step_back = max(last - overlap, first + 1)
        first = (
            _last_word_start(word_starts, first + 1, step_back)
            or _first_word_start(word_starts, step_back, last - 1)
            or step_back
        )


def _last_word_start(word_starts: Sequence[bool], lowest: int, highest: int) -> int | None:
    """The last piece index in [lowest, highest] that starts a word, or None."""
    return next((index for index in range(highest, lowest - 1, -1) if word_starts[index]), None)


def _first_word_start(word_starts: Sequence[bool], lowest: int, highest: int) -> int | None:
    """The first piece index in [lowest, highest] that starts a word, or None."""
    return next((index for index in range(lowest, highest + 1) if word_starts[index]), None)
