"""Reading txt/csv/jsonl/parquet into Documents, and every refusal of a file that would give a broken index."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from simsearch.errors import InputError
from simsearch.ingest.corpus import Corpus, Document, documents_from_rows, read_corpus
from simsearch.ingest.readers import guess_text_column

ROWS = [
    {"id": "d1", "text": "The cat sleeps on the windowsill.", "category": "pets", "year": 2021},
    {"id": "d2", "text": "Interest rates rose again.", "category": "finance", "year": 2022},
    {"id": "d3", "text": "Knead the dough for ten minutes.", "category": "cooking", "year": 2023},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def texts_of(corpus: Corpus) -> list[str]:
    return [doc.text for doc in corpus.documents]


# --- reading each format -----------------------------------------------------------------


def test_txt_reads_one_text_per_line_and_counts_blank_lines(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("first text\n\nsecond text\n   \nthird text\n", encoding="utf-8")
    corpus = read_corpus(path)
    assert texts_of(corpus) == ["first text", "second text", "third text"]
    assert corpus.skipped_blank == 2
    assert all(doc.id is None and doc.metadata == {} for doc in corpus.documents)


def test_txt_handles_crlf_line_endings_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "windows.txt"
    path.write_bytes("\ufefffirst text\r\nsecond text\r\n".encode())
    assert texts_of(read_corpus(path)) == ["first text", "second text"]


def test_txt_ignores_text_and_id_column_arguments(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("only line\n", encoding="utf-8")
    corpus = read_corpus(path, text_column="body", id_column="key")
    assert corpus.documents == [Document(text="only line")]


def test_csv_reads_ids_texts_and_other_columns_as_metadata(tmp_path):
    path = tmp_path / "docs.csv"
    pd.DataFrame(ROWS).to_csv(path, index=False)
    corpus = read_corpus(path)
    assert [doc.id for doc in corpus.documents] == ["d1", "d2", "d3"]
    assert texts_of(corpus) == [row["text"] for row in ROWS]
    # a column of numbers becomes numbers (so ranges compare them as numbers); the rest stay strings
    assert corpus.documents[0].metadata == {"category": "pets", "year": 2021}
    assert corpus.skipped_blank == 0


def test_csv_columns_of_numbers_become_numbers_one_type_per_column(tmp_path):
    path = tmp_path / "typed.csv"
    path.write_text(
        "id,text,year,rating,zip,mixed,empty\n"
        "01,first,2001,4.5,02134,12,\n"
        "02,second,,3,10001,n/a,\n"
        "03,third,1999,-1e2,00501,7,\n",
        encoding="utf-8",
    )
    documents = read_corpus(path).documents
    assert [doc.id for doc in documents] == ["01", "02", "03"]  # the id column stays text, zeros kept
    assert [doc.metadata["year"] for doc in documents] == [2001, None, 1999]  # an empty cell: not set
    assert [doc.metadata["rating"] for doc in documents] == [4.5, 3.0, -100.0]
    assert all(type(doc.metadata["rating"]) is float for doc in documents)  # not all whole: floats throughout
    assert [doc.metadata["zip"] for doc in documents] == ["02134", "10001", "00501"]  # leading zeros: text
    assert [doc.metadata["mixed"] for doc in documents] == ["12", "n/a", "7"]  # a word among numbers: text
    assert [doc.metadata["empty"] for doc in documents] == ["", "", ""]


def test_csv_text_column_of_numbers_stays_text(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("id,text\n1,42\n2,7.0\n", encoding="utf-8")
    assert [doc.text for doc in read_corpus(path).documents] == ["42", "7.0"]


def test_csv_keeps_quoted_commas_and_newlines_inside_a_text(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('id,text\nq1,"one, two\nthree"\n', encoding="utf-8")
    assert read_corpus(path).documents == [Document(text="one, two\nthree", id="q1")]


def test_csv_saved_with_a_byte_order_mark_still_finds_its_first_column(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffid,text\r\ne1,from a spreadsheet\r\n".encode())
    assert read_corpus(path).documents == [Document(text="from a spreadsheet", id="e1")]


def test_jsonl_reads_rows_and_keeps_metadata_types(tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", ROWS)
    corpus = read_corpus(path)
    assert [doc.id for doc in corpus.documents] == ["d1", "d2", "d3"]
    assert corpus.documents[1].metadata == {"category": "finance", "year": 2022}


def test_jsonl_skips_blank_lines_between_objects(tmp_path):
    path = tmp_path / "gaps.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n" + json.dumps(ROWS[1]) + "\n", encoding="utf-8")
    assert [doc.id for doc in read_corpus(path).documents] == ["d1", "d2"]


def test_jsonl_numeric_ids_become_strings_and_null_ids_are_left_to_the_index(tmp_path):
    path = write_jsonl(tmp_path / "ids.jsonl", [{"id": 7, "text": "seven"}, {"id": None, "text": "unnamed"}])
    assert [doc.id for doc in read_corpus(path).documents] == ["7", None]


def test_parquet_reads_rows_with_plain_python_metadata(tmp_path):
    path = tmp_path / "docs.parquet"
    pd.DataFrame(ROWS).to_parquet(path, index=False)
    corpus = read_corpus(path)
    assert [doc.id for doc in corpus.documents] == ["d1", "d2", "d3"]
    metadata = corpus.documents[2].metadata
    assert metadata == {"category": "cooking", "year": 2023}
    assert type(metadata["year"]) is int
    json.dumps(metadata)  # metadata must be storable as JSON


def test_file_without_id_column_leaves_ids_to_the_index(tmp_path):
    path = tmp_path / "noid.csv"
    pd.DataFrame([{"text": "alpha", "lang": "en"}, {"text": "beta", "lang": "en"}]).to_csv(path, index=False)
    corpus = read_corpus(path)
    assert [doc.id for doc in corpus.documents] == [None, None]
    assert corpus.documents[0].metadata == {"lang": "en"}


def test_custom_text_and_id_columns_are_used_and_left_out_of_metadata(tmp_path):
    path = tmp_path / "custom.csv"
    frame = pd.DataFrame([{"key": "k1", "body": "first body", "id": "x", "text": "not this"}])
    frame.to_csv(path, index=False)
    corpus = read_corpus(path, text_column="body", id_column="key")
    assert corpus.documents == [Document(text="first body", id="k1", metadata={"id": "x", "text": "not this"})]


def test_id_column_none_numbers_texts_and_keeps_id_as_metadata():
    corpus = documents_from_rows([{"id": "a", "text": "alpha"}], id_column=None)
    assert corpus.documents == [Document(text="alpha", id=None, metadata={"id": "a"})]


def test_documents_from_rows_turns_non_string_text_into_string():
    corpus = documents_from_rows([{"text": 42}, {"text": "words"}])
    assert texts_of(corpus) == ["42", "words"]


def test_whitespace_only_texts_are_skipped_counted_and_logged(tmp_path, caplog):
    path = write_jsonl(
        tmp_path / "blanks.jsonl",
        [{"id": "a", "text": "real"}, {"id": "b", "text": "  \t "}, {"id": "c", "text": None}, {"id": "d", "text": ""}],
    )
    with caplog.at_level(logging.WARNING, logger="simsearch.ingest.corpus"):
        corpus = read_corpus(path)
    assert [doc.id for doc in corpus.documents] == ["a"]
    assert corpus.skipped_blank == 3
    assert "skipped 3" in caplog.text


# --- refusals ----------------------------------------------------------------------------


def test_missing_file_is_refused_naming_the_path(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(InputError, match="does not exist") as info:
        read_corpus(path)
    assert "nowhere.csv" in str(info.value)


def test_folder_without_input_files_is_refused(tmp_path):
    (tmp_path / "notes.md").write_text("not an input file\n")
    with pytest.raises(InputError, match="holds no .txt, .csv, .jsonl, .parquet files"):
        read_corpus(tmp_path)


def test_folder_of_files_reads_as_one_file_in_name_order(tmp_path):
    (tmp_path / "part-1.csv").write_text("id,text,year\nb,second text,2001\n")
    (tmp_path / "part-0.csv").write_text("id,text,year\na,first text,2000\n")
    corpus = read_corpus(tmp_path)
    assert [(d.id, d.text, d.metadata) for d in corpus.documents] == [
        ("a", "first text", {"year": 2000}),
        ("b", "second text", {"year": 2001}),
    ]


def test_folder_mixing_file_types_or_repeating_ids_is_refused(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": "x", "text": "one"}\n')
    (tmp_path / "b.jsonl").write_text('{"id": "x", "text": "two"}\n')
    with pytest.raises(InputError, match="duplicate ids: 'x'"):
        read_corpus(tmp_path)
    (tmp_path / "c.txt").write_text("three\n")
    with pytest.raises(InputError, match="mixes .jsonl, .txt files"):
        read_corpus(tmp_path)


@pytest.mark.parametrize("name", ["empty.txt", "empty.csv", "empty.jsonl", "empty.parquet"])
def test_empty_file_is_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(InputError, match=rf"{name} is empty"):
        read_corpus(path)


@pytest.mark.parametrize("name", ["book.xlsx", "notes.md", "noextension"])
def test_unknown_extension_is_refused_listing_supported_ones(tmp_path, name):
    path = tmp_path / name
    path.write_text("id,text\n1,hello\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown input extension") as info:
        read_corpus(path)
    message = str(info.value)
    assert all(ext in message for ext in (".txt", ".csv", ".jsonl", ".parquet"))


def test_csv_with_only_a_header_is_refused_as_having_no_rows(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("id,text\n", encoding="utf-8")
    with pytest.raises(InputError, match="no rows"):
        read_corpus(path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_missing_text_column_is_refused_listing_columns_found(tmp_path, suffix):
    rows = [{"id": "a", "body": "hello", "lang": "en"}]
    path = tmp_path / f"docs{suffix}"
    if suffix == ".jsonl":
        write_jsonl(path, rows)
    elif suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_parquet(path, index=False)
    with pytest.raises(InputError, match="no text column 'text'") as info:
        read_corpus(path)
    assert "columns found: id, body, lang" in str(info.value)


def test_custom_text_column_that_is_missing_is_refused(tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", ROWS)
    with pytest.raises(InputError, match="no text column 'body'") as info:
        read_corpus(path, text_column="body")
    assert "id, text, category, year" in str(info.value)


def test_explicitly_named_id_column_that_is_missing_is_refused(tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", ROWS)
    with pytest.raises(InputError, match="no id column 'doc_id'") as info:
        read_corpus(path, id_column="doc_id")
    assert "columns found: id, text, category, year" in str(info.value)


def test_file_of_only_whitespace_texts_is_refused(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n   \n\t\n", encoding="utf-8")
    with pytest.raises(InputError, match="all 3 texts are empty or whitespace"):
        read_corpus(path)


def test_rows_that_are_all_whitespace_are_refused():
    with pytest.raises(InputError, match="all 2 texts"):
        documents_from_rows([{"text": " "}, {"text": "\n"}])


def test_no_rows_at_all_is_refused():
    with pytest.raises(InputError, match="no rows"):
        documents_from_rows([])


@pytest.mark.parametrize("suffix", [".txt", ".csv", ".jsonl"])
def test_invalid_utf8_is_refused_naming_the_line(tmp_path, suffix):
    path = tmp_path / f"latin1{suffix}"
    lines = {
        ".txt": [b"fine text", b"also fine", b"caf\xe9 au lait"],
        ".csv": [b"id,text", b"a,fine", b"b,caf\xe9"],
        ".jsonl": [b'{"text": "fine"}', b'{"text": "fine"}', b'{"text": "caf\xe9"}'],
    }[suffix]
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InputError, match="line 3 is not valid UTF-8"):
        read_corpus(path)


def test_duplicate_ids_are_refused_naming_the_id(tmp_path):
    path = tmp_path / "dupes.csv"
    pd.DataFrame([{"id": "a", "text": "one"}, {"id": "b", "text": "two"}, {"id": "a", "text": "three"}]).to_csv(
        path, index=False
    )
    with pytest.raises(InputError, match="duplicate ids: 'a'"):
        read_corpus(path)


def test_ids_equal_after_conversion_to_string_count_as_duplicates():
    with pytest.raises(InputError, match="duplicate ids: '5'"):
        documents_from_rows([{"id": 5, "text": "int"}, {"id": "5", "text": "str"}])


def test_many_duplicate_ids_are_summarised():
    rows = [{"id": f"x{i % 7}", "text": f"text {i}"} for i in range(14)]
    with pytest.raises(InputError, match="and 2 more"):
        documents_from_rows(rows)


def test_empty_id_is_refused():
    with pytest.raises(InputError, match="empty id"):
        documents_from_rows([{"id": "  ", "text": "hello"}])


def test_bad_json_line_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n\n{"text": "broken",\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 3 is not valid JSON"):
        read_corpus(path)


def test_json_line_that_is_not_an_object_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text('{"text": "fine"}\n["not", "an", "object"]\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2 is not a JSON object"):
        read_corpus(path)


def test_damaged_parquet_is_refused(tmp_path):
    path = tmp_path / "damaged.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_corpus(path)


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([{"id": "1", "body": "A long enough text."}], "body"),
        ([{"ID": "a-long-identifier-0001", "note": "short"}], "note"),
        ([{"key": "p1", "body": "The cat naps.", "kind": "cat"}], "body"),
        ([{"year": "2001", "title": "Dune"}, {"year": "1999", "title": "Emma"}], "title"),
        ([{"text": "x", "abstract": "a much longer text than the text column"}], "text"),
        ([{"id": "1", "n": 5}], None),
    ],
)
def test_the_guessed_text_column_is_the_longest_strings_never_id(rows, expected):
    assert guess_text_column(rows) == expected


def test_a_csv_number_written_with_a_decimal_point_stays_a_float(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("id,text,score,count\na,first,5.0,3\nb,second,4.0,4\n", encoding="utf-8")
    documents = read_corpus(path).documents
    assert [doc.metadata["score"] for doc in documents] == [5.0, 4.0]
    assert all(type(doc.metadata["score"]) is float for doc in documents)  # 5.0 stays 5.0, not 5
    assert all(type(doc.metadata["count"]) is int for doc in documents)


def test_a_corpus_names_the_columns_it_read(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("key,body\nk1,first\n", encoding="utf-8")
    corpus = read_corpus(path, text_column="body", id_column="key")
    assert (corpus.text_column, corpus.id_column) == ("body", "key")
    numbered = read_corpus(path, text_column="body")
    assert (numbered.text_column, numbered.id_column) == ("body", None)  # no "id" column: numbered
