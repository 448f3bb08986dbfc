"""The readers stream a file's rows, and give the lines, rows and first error that reading it whole gave."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simsearch.errors import InputError
from simsearch.ingest.csv_rows import csv_rows
from simsearch.ingest.lines import decoded_lines
from simsearch.ingest.readers import parquet_rows, read_columns, read_rows


def test_lines_end_where_splitlines_of_the_whole_file_ends_them(tmp_path):
    long_line = "é" * 300_000  # longer than any read buffer, with two-byte characters across its edges
    data = ("\ufeffone\r\ntwo\rthree\n\n" + long_line + "\r\r\nlast\r").encode()
    path = tmp_path / "mixed.txt"
    path.write_bytes(data)
    expected = [raw.decode() for raw in data.splitlines()]
    expected[0] = expected[0].removeprefix("\ufeff")
    assert list(decoded_lines(path)) == expected
    assert expected[:5] == ["one", "two", "three", "", long_line]


def test_a_bad_byte_late_in_a_file_is_the_error_before_a_bad_row_early(tmp_path):
    path = tmp_path / "both.csv"
    path.write_bytes(b"id,text\n1,fine\n2,one,too many\n3,fine\n4,caf\xe9\n")
    with pytest.raises(InputError, match="line 5 is not valid UTF-8"):
        read_rows(path)


def test_csv_rows_come_before_the_reader_reaches_the_end_of_the_file(tmp_path):
    path = tmp_path / "late.csv"
    path.write_text("id,text\n1,first\n2,second\n3,one,too many\n", encoding="utf-8")
    rows = csv_rows(path)
    assert next(rows) == {"id": "1", "text": "first"}  # read whole, the bad line 4 would have come first
    assert next(rows) == {"id": "2", "text": "second"}
    with pytest.raises(InputError, match="line 4 has 3 fields where the header has 2"):
        next(rows)


def test_a_parquet_file_of_many_row_groups_and_batches_reads_every_row_in_order(tmp_path):
    count = 300_000  # more than two of pyarrow's 128Ki-row batches
    table = pa.table({"id": [f"d{i}" for i in range(count)], "n": list(range(count))})
    path = tmp_path / "groups.parquet"
    pq.write_table(table, path, row_group_size=70_000)
    rows = list(parquet_rows(path))
    assert rows == table.to_pylist()
    assert rows[-1] == {"id": f"d{count - 1}", "n": count - 1}


def test_columns_are_the_union_of_every_json_line_even_when_read_as_a_stream(tmp_path):
    path = tmp_path / "ragged.jsonl"
    path.write_text('{"text": "a"}\n{}\n{"text": "b", "year": 2020}\n', encoding="utf-8")
    assert read_columns(path) == ["text", "year"]
    empty_objects = tmp_path / "empty_objects.jsonl"
    empty_objects.write_text("{}\n{}\n", encoding="utf-8")
    assert read_columns(empty_objects) == []  # rows without keys are rows: not "has no rows"
