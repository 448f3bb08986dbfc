"""The words FTS5 matched in a stored text, read back as spans: real SQLite, the store's own tokenizer."""

from __future__ import annotations

from simsearch import Document, Index, load_encoder
from simsearch.store import Store
from simsearch.store.schema import LEXICAL_TOKENIZER


def stored(tmp_path, *texts: str) -> tuple[Store, list[int]]:
    store = Store(tmp_path / "store.sqlite")
    store.begin()
    row_ids = store.insert([Document(text) for text in texts])
    store.commit()
    return store, row_ids


def marked_words(store: Store, terms: list[str], row_ids: list[int]) -> dict[int, list[str]]:
    return {row: [found.text[a:b] for a, b in found.spans] for row, found in store.highlights(terms, row_ids).items()}


def test_a_word_is_marked_when_the_porter_stemmer_gives_it_the_query_words_stem(tmp_path):
    assert LEXICAL_TOKENIZER.startswith("porter")  # what the store's FTS5 table is declared with
    store, rows = stored(tmp_path, "The runner runs; running is fun.", "Café crème près de l'école")
    # Porter: running and runs -> run; runner stays runner. Diacritics are folded: cafe marks Café.
    assert marked_words(store, ["running"], rows) == {rows[0]: ["runs", "running"]}
    assert marked_words(store, ["cafe", "ecole"], rows) == {rows[1]: ["Café", "école"]}
    store.close()


def test_spans_are_offsets_into_the_stored_text(tmp_path):
    store, rows = stored(tmp_path, "pay $5 for *fetching* balls")
    found = store.highlights(["fetches", "ball", "5"], rows)[rows[0]]
    assert found.text == "pay $5 for *fetching* balls"
    assert found.spans == [(5, 6), (12, 20), (22, 27)]
    store.close()


def test_query_syntax_in_a_term_is_only_ever_a_word(tmp_path):
    store, rows = stored(tmp_path, "A dog near the cat, and then some.", "Nothing here.")
    terms = ['"dog', "NEAR(the", "then*", "-and", "OR", 'x"y']  # NEAR(the: the phrase "near the", not an operator
    assert marked_words(store, terms, rows) == {rows[0]: ["dog", "near the", "and", "then"]}
    store.close()


def test_rows_without_a_match_unknown_rows_and_no_terms_give_nothing(tmp_path):
    store, rows = stored(tmp_path, "The cat sleeps.", "A dog barks.")
    assert set(store.highlights(["cat"], [*rows, 999])) == {rows[0]}
    assert store.highlights([], rows) == {}
    store.close()


def test_a_text_holding_the_marks_fts5_is_given_is_left_unmarked_rather_than_read_wrong(tmp_path):
    store, rows = stored(tmp_path, "cat \x02 cat", "cat")
    assert set(store.highlights(["cat"], rows)) == {rows[1]}
    store.close()


def test_index_highlights_by_id_the_informative_query_words_and_leaves_meaning_only_matches_out(
    tiny_model, index_dir, animals
):
    index = Index.build("zoo", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)
    found = index.highlights("the warm cats", ["a1", "a2", "a8", "unknown"])
    assert list(found) == ["a1"]  # the dog and the rain hold no query word ("the" is a stop word)
    text = found["a1"].text
    assert [text[a:b] for a, b in found["a1"].spans] == ["cat", "warm"]
    assert index.highlights("*-()", ["a1"]) == {}  # no words at all
    syntax = index.highlights('NEAR(warm cat) "sleeps" -dog* OR', ["a1", "a2"])
    assert {id: [h.text[a:b] for a, b in h.spans] for id, h in syntax.items()} == {
        "a1": ["cat", "sleeps", "warm"],
        "a2": ["dog"],
    }
    index.close()


def test_index_highlights_refuses_a_missing_query_and_a_bare_string_of_ids(tiny_model, index_dir):
    import pytest

    from simsearch.errors import InvalidArgumentError

    encoder = load_encoder(tiny_model)
    index = Index.build("hl", [{"id": "ab", "text": "the cat runs"}], encoder=encoder, index_dir=index_dir)
    with pytest.raises(InvalidArgumentError, match="the query is empty"):
        index.highlights(None, ["ab"])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="wrap a single id in a list"):
        index.highlights("cat", "ab")  # a string would look up "a" and "b"
    assert set(index.highlights("cat", ["ab"])) == {"ab"}
