"""The `simsearch` command in-process (Typer's CliRunner): outputs, exit codes, one-line errors, crash safety.

Only what needs a real process spawns one: the kill in the middle of a rebuild. The
console script itself is exercised by tests/test_install.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from simsearch import Index, list_indexes
from simsearch.cli import app


def run(*args: str, index_dir: Path, check: bool = True) -> Result:
    """``simsearch ARGS`` in this process, with ``index_dir`` as $SIMSEARCH_HOME."""
    result = CliRunner().invoke(app, list(args), env={"SIMSEARCH_HOME": str(index_dir)}, catch_exceptions=False)
    if check:
        assert result.exit_code == 0, result.stderr
    return result


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture
def csv_file(tmp_path, animals) -> Path:
    import pandas as pd

    path = tmp_path / "animals.csv"
    pd.DataFrame(animals).to_csv(path, index=False)
    return path


@pytest.fixture
def built_cli(csv_file, tiny_model, index_dir) -> Path:
    run("build", "zoo", "--input", str(csv_file), "--model", tiny_model, index_dir=index_dir)
    return index_dir


@pytest.mark.parametrize(
    ("name", "input", "fragments"),
    [
        ("zoo", "animals.csv", ["index 'zoo' exists already", "--overwrite"]),
        ("bad name!", "animals.csv", ["invalid index name 'bad name!'"]),
        ("zoo", "missing.csv", ["index 'zoo' exists already"]),
        ("fresh", "missing.csv", ["missing.csv", "does not exist"]),
    ],
)
def test_build_checks_name_existence_and_files_before_loading_a_model(built_cli, csv_file, name, input, fragments):
    # a model folder that does not exist: any check made after loading it would report that instead
    result = run(
        "build",
        name,
        "--input",
        str(csv_file.parent / input),
        "--model",
        "/no/such/model",
        index_dir=built_cli,
        check=False,
    )
    assert_one_line_error(result, *fragments)


def test_build_checks_the_kind_before_loading_a_model(csv_file, index_dir):
    result = run(
        "build",
        "fresh",
        "--input",
        str(csv_file),
        "--kind",
        "annoy",
        "--model",
        "/no/such/model",
        index_dir=index_dir,
        check=False,
    )
    assert_one_line_error(result, "unknown index kind 'annoy'")


def test_an_unknown_pooling_is_refused_while_parsing_before_the_input_is_read(index_dir, tmp_path):
    # the input does not exist: a pooling checked only when the model loads would report the file instead
    missing = str(tmp_path / "missing.csv")
    result = run("build", "fresh", "--input", missing, "--pooling", "avg", index_dir=index_dir, check=False)
    assert_one_line_error(result, "invalid pooling 'avg'", "valid: mean, cls, max")


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--loss", "triplet"], "invalid loss 'triplet'; valid: contrastive"),
        (["--cross-encoder", "--loss", "hinge"], "invalid cross-encoder loss 'hinge'; valid: bce, mse"),
    ],
)
def test_train_refuses_an_unknown_loss_before_reading_the_pairs(tmp_path, flags, fragment):
    # the pairs file does not exist: a loss checked after reading it would report the file instead
    pairs, output = str(tmp_path / "missing.csv"), str(tmp_path / "model")
    result = run("train", "--pairs", pairs, "--output", output, *flags, index_dir=tmp_path, check=False)
    assert_one_line_error(result, fragment)


def test_index_build_over_an_existing_name_is_refused_before_the_default_model_loads(built_cli):
    import subprocess
    import sys

    from tests.conftest import REPO

    script = (
        "import sys; from simsearch import Index\n"
        "try:\n    Index.build('zoo', ['a text'], index_dir=sys.argv[1])\n"
        "except Exception as error:\n    print(type(error).__name__, 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(built_cli)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert done.stdout.split() == ["IndexExistsError", "False"], done.stderr  # no model was loaded


def test_build_search_json_sorted_with_metadata(built_cli):
    result = run("search", "zoo", "The cat sleeps on the warm windowsill.", "-k", "3", "--json", index_dir=built_cli)
    line = json.loads(result.stdout)
    assert line["query"] == "The cat sleeps on the warm windowsill."
    hits = line["hits"]
    assert [set(h) for h in hits] == [{"id", "text", "score", "metadata"}] * 3
    assert hits[0]["id"] == "a1" and hits[0]["metadata"] == {"category": "pets"}
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_queries_file_output_lines_align_with_input_lines(built_cli, tmp_path):
    queries = tmp_path / "q.txt"  # a blank line in the middle; the final newline ends the last query
    queries.write_text("Heavy rain flooded the mountain trail.\n  \nInterest rates rose again this quarter.\n")
    result = run("search", "zoo", "--queries", str(queries), "-k", "2", "--json", index_dir=built_cli)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert (lines[0]["query"], lines[0]["hits"][0]["id"]) == ("Heavy rain flooded the mountain trail.", "a8")
    assert lines[1]["query"] == "" and lines[1]["hits"] == [] and "line 2 is blank" in lines[1]["error"]
    assert (lines[2]["query"], lines[2]["hits"][0]["id"]) == ("Interest rates rose again this quarter.", "a4")
    assert "error" not in lines[0] and "error" not in lines[2]

    plain = run("search", "zoo", "--queries", str(queries), "-k", "1", index_dir=built_cli).stdout
    assert "(line 2 is blank: nothing to search for)" in plain
    assert plain.index("Heavy rain") < plain.index("line 2 is blank") < plain.index("Interest rates")


def test_queries_from_a_csv_are_its_text_column_not_its_raw_lines(built_cli, tmp_path):
    queries = tmp_path / "q.csv"
    queries.write_text('id,text\nq1,"Heavy rain flooded the mountain trail."\nq2,baking bread\n')
    result = run("search", "zoo", "--queries", str(queries), "-k", "1", "--json", index_dir=built_cli)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["query"] for a in answers] == ["Heavy rain flooded the mountain trail.", "baking bread"]


def test_queries_from_a_csv_without_a_query_or_text_column_are_refused(built_cli, tmp_path):
    queries = tmp_path / "q.csv"
    queries.write_text("id,question\nq1,rain\n")
    result = run("search", "zoo", "--queries", str(queries), index_dir=built_cli, check=False)
    assert_one_line_error(result, "q.csv has no query or text column (columns: id, question)")
    assert result.stdout == ""


def test_queries_file_with_crlf_and_no_final_newline(built_cli, tmp_path):
    queries = tmp_path / "q.tsv"  # any name: the file is read as lines, not as a corpus
    queries.write_bytes(b"Heavy rain flooded the mountain trail.\r\nbaking bread")
    result = run("search", "zoo", "--queries", str(queries), "--top-k", "1", "--json", index_dir=built_cli)
    assert [json.loads(line)["query"] for line in result.stdout.splitlines()] == [
        "Heavy rain flooded the mountain trail.",
        "baking bread",
    ]


@pytest.mark.parametrize(
    "content, fragments",
    [
        (b"cats\ncaf\xe9 au lait\n", ["line 2", "UTF-8"]),
        (b"", ["is empty"]),
        (None, ["does not exist"]),
    ],
)
def test_bad_queries_file_is_one_line_error(built_cli, tmp_path, content, fragments):
    queries = tmp_path / "q.txt"
    if content is not None:
        queries.write_bytes(content)
    result = run("search", "zoo", "--queries", str(queries), index_dir=built_cli, check=False)
    assert_one_line_error(result, *fragments)
    assert result.stdout == ""


@pytest.fixture
def dated_cli(tmp_path, animals, tiny_model, index_dir) -> Path:
    import pandas as pd

    path = tmp_path / "dated.csv"
    years = [1995, 2001, 2005, 2009, 2010, 2015, 2020, 1999]
    langs = ["en", "fr", "en", "de", "fr", "en", "en", "fr"]
    pd.DataFrame(
        [
            {**row, "year": year, "lang": lang, "ok": i % 2 == 0}
            for i, (row, year, lang) in enumerate(zip(animals, years, langs))
        ]
    ).to_csv(path, index=False)
    run("build", "dated", "--input", str(path), "--model", tiny_model, index_dir=index_dir)
    return index_dir


def searched_ids(index_dir: Path, *options: str) -> set[str]:
    result = run(
        "search", "dated", "cats and markets", "-k", "8", "--json", "--mode", "dense", *options, index_dir=index_dir
    )
    return {hit["id"] for hit in json.loads(result.stdout)["hits"]}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["category=pets"], {"a1", "a2"}),
        (["category=pets", "category=finance"], {"a1", "a2", "a3", "a4"}),
        (["year>=2005", "year<2015"], {"a3", "a4", "a5"}),
        (["year>2005", "year<=2010", "lang!=fr"], {"a4"}),
        (["lang != en", "category==outdoors"], {"a8"}),
        (["ok=True"], {"a1", "a3", "a5", "a7"}),  # a CSV column of True/False stays text, matched as written
        (["ok=true"], set()),  # true/false are booleans, which that text column does not hold
        (["year=2001.0"], {"a2"}),
    ],
)
def test_search_filter_option_combines_repeated_conditions(dated_cli, filters, expected):
    assert searched_ids(dated_cli, *[part for text in filters for part in ("--filter", text)]) == expected


def test_search_filter_reads_true_and_false_as_booleans(tiny_model, index_dir, tmp_path, animals):
    path = tmp_path / "flags.jsonl"
    path.write_text("".join(json.dumps({**row, "ok": i < 3}) + "\n" for i, row in enumerate(animals)))
    run("build", "flags", "--input", str(path), "--model", tiny_model, index_dir=index_dir)
    result = run("search", "flags", "cats", "-k", "8", "--json", "--filter", "ok=true", index_dir=index_dir)
    assert {hit["id"] for hit in json.loads(result.stdout)["hits"]} == {"a1", "a2", "a3"}


@pytest.mark.parametrize(
    ("option", "fragments"),
    [
        ("year~2000", ["cannot read the filter 'year~2000'", "COLUMN OP VALUE", "= != > >= < <="]),
        (">=2000", ["cannot read the filter '>=2000'"]),
        ("colour=red", ["no document has a metadata column 'colour'"]),
        ("year>=2000", ["two >= filters on 'year'"]),
        ("year<=a", ["mix numbers and strings"]),
    ],
)
def test_a_malformed_filter_is_one_line_naming_the_form(dated_cli, option, fragments):
    extra = ["--filter", "year>=1990"] if option in ("year>=2000", "year<=a") else []
    result = run("search", "dated", "cats", "--filter", option, *extra, index_dir=dated_cli, check=False)
    assert_one_line_error(result, *fragments)


@pytest.mark.parametrize(
    ("option", "fragments"),
    [
        ("year>>2000", ["cannot read the filter 'year>>2000'", "'>>' is no operator"]),
        ("year=>2000", ["cannot read the filter 'year=>2000'", "'=>' is no operator"]),
        ("year<2000x", ["'year' (holding numbers)", "lt '2000x'", "give a number"]),
    ],
)
def test_a_filter_that_used_to_match_nothing_silently_is_refused(dated_cli, option, fragments):
    result = run("search", "dated", "cats", "--filter", option, index_dir=dated_cli, check=False)
    assert_one_line_error(result, *fragments)
    assert "no hits" not in result.stdout


def test_search_min_score_drops_weaker_hits(dated_cli):
    every = json.loads(
        run("search", "dated", "cats", "-k", "8", "--json", "--mode", "dense", index_dir=dated_cli).stdout
    )["hits"]
    threshold = (every[1]["score"] + every[2]["score"]) / 2
    kept = json.loads(
        run(
            "search",
            "dated",
            "cats",
            "-k",
            "8",
            "--json",
            "--mode",
            "dense",
            "--min-score",
            str(threshold),
            index_dir=dated_cli,
        ).stdout
    )["hits"]
    assert [hit["id"] for hit in kept] == [hit["id"] for hit in every[:2]]


def test_top_k_has_a_long_form(built_cli):
    result = run("search", "zoo", "cats", "--top-k", "3", "--json", index_dir=built_cli)
    assert len(json.loads(result.stdout)["hits"]) == 3


def test_counts_in_messages_are_pluralised(built_cli, tmp_path):
    one = tmp_path / "one.txt"
    one.write_text("Owls hunt at night.\n")
    assert "added 1 text to 'zoo' (now 9)" in run("add", "zoo", "--input", str(one), index_dir=built_cli).stderr
    assert "deleted 1 text from 'zoo' (now 8)" in run("delete", "zoo", "a1", index_dir=built_cli).stderr
    assert "deleted 2 texts from 'zoo' (now 6)" in run("delete", "zoo", "a2", "a3", index_dir=built_cli).stderr


def test_build_message_counts_the_model_load(csv_file, tiny_model, index_dir):
    result = run("build", "timed", "--input", str(csv_file), "--model", tiny_model, index_dir=index_dir)
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("built 'timed': 8 texts, kind flat, "), message
    assert "model load" in message and "encoding and indexing" in message
    total = float(message.split(", kind flat, ")[1].split(" s ")[0])
    assert total + 0.05 >= Index.open("timed", index_dir=index_dir).manifest.build_seconds  # printed to 0.1 s
    assert "blank" not in message  # nothing skipped: nothing said
    info = run("info", "timed", index_dir=index_dir).stdout
    assert "(encoding and indexing; model load not counted)" in info  # the manifest's figure, labelled honestly


def test_list_long_is_a_table(built_cli, csv_file, tiny_model):
    run("build", "zoo-hnsw", "--input", str(csv_file), "--model", tiny_model, "--kind", "hnsw", index_dir=built_cli)
    run("delete", "zoo", "a1", index_dir=built_cli)
    table = run("list", "--long", index_dir=built_cli).stdout.splitlines()
    assert table[0].split() == ["NAME", "DOCUMENTS", "KIND", "MODEL", "SIZE"]
    rows = [line.split() for line in table[1:]]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("zoo", "7", "flat", tiny_model),
        ("zoo-hnsw", "8", "hnsw", tiny_model),
    ]
    assert all(r[5] in ("B", "KB", "MB") for r in rows)
    rows = json.loads(run("list", "--long", "--json", index_dir=built_cli).stdout)
    assert [(r["name"], r["count"], r["kind"]) for r in rows] == [("zoo", 7, "flat"), ("zoo-hnsw", 8, "hnsw")]
    assert all(r["size_bytes"] > 0 and r["model"] == tiny_model for r in rows)
    assert run("list", index_dir=built_cli).stdout.split() == ["zoo", "zoo-hnsw"]  # plain list: names only


def test_drop_without_yes_off_a_terminal_is_refused(built_cli):
    result = run("drop", "zoo", index_dir=built_cli, check=False)  # CliRunner's stdin is a buffer, not a tty
    assert_one_line_error(result, "pass --yes")
    result = CliRunner().invoke(app, ["drop", "zoo"], input="y\n", env={"SIMSEARCH_HOME": str(built_cli)})
    assert_one_line_error(result, "pass --yes")  # an answer piped in is not a person at a terminal
    assert list_indexes(built_cli) == ["zoo"]
    result = run("drop", "zoo", index_dir=built_cli, check=False)
    assert_one_line_error(result, "pass --yes")
    assert list_indexes(built_cli) == ["zoo"]


def test_help_shows_no_type_on_flags_and_no_stray_spaces(index_dir):
    from typer.main import get_command

    def commands(group, path=()):
        for name, command in group.commands.items():
            yield (*path, name)
            if hasattr(command, "commands"):
                yield from commands(command, (*path, name))

    root = get_command(app)
    for path in [(), *commands(root)]:
        text = run(*path, "--help", index_dir=index_dir).stdout
        assert "<bool>" not in text, (path, text)
        assert not re.search(r"\S [.,](\s|$)", text, re.MULTILINE), (path, text)  # "hub id ." from eaten markup
    build_help = "".join(run("build", "--help", index_dir=index_dir).stdout.split())  # wrapping aside
    assert "hubid.[default:all-MiniLM-L6-v2]" in build_help
    assert "Folderofindexes.[default:$SIMSEARCH_HOMEor./indexes]" in build_help
    assert "--top-k" in run("search", "--help", index_dir=index_dir).stdout


def test_add_delete_info_list_drop(built_cli, tmp_path):
    extra = tmp_path / "extra.jsonl"
    extra.write_text('{"id": "n1", "text": "Owls hunt at night.", "category": "birds"}\n')
    run("add", "zoo", "--input", str(extra), index_dir=built_cli)
    run("delete", "zoo", "a1", "a2", index_dir=built_cli)
    info = json.loads(run("info", "zoo", "--json", index_dir=built_cli).stdout)
    assert info["count"] == 7 and info["kind"] == "flat" and info["model"]["pooling"] == "mean"
    assert info["size_bytes"] > 0 and info["built_at"] > 0
    assert "documents" in run("info", "zoo", index_dir=built_cli).stdout
    assert run("list", index_dir=built_cli).stdout.split() == ["zoo"]
    run("drop", "zoo", "--yes", index_dir=built_cli)
    assert "no indexes" in run("list", index_dir=built_cli).stdout


def test_add_upsert_replaces_and_get_prints_the_document(built_cli, tmp_path):
    changed = tmp_path / "changed.jsonl"
    changed.write_text('{"id": "a1", "text": "Owls hunt at night.", "category": "birds"}\n')
    assert_one_line_error(
        run("add", "zoo", "--input", str(changed), index_dir=built_cli, check=False), "'a1'", "--upsert"
    )
    run("add", "zoo", "--input", str(changed), "--upsert", index_dir=built_cli)
    got = json.loads(run("get", "zoo", "a1", "--json", index_dir=built_cli).stdout)
    assert got == {"id": "a1", "text": "Owls hunt at night.", "metadata": {"category": "birds"}}
    assert run("get", "zoo", "a1", index_dir=built_cli).stdout.splitlines() == [
        "Owls hunt at night.",
        "  category: birds",
    ]
    assert_one_line_error(run("get", "zoo", "nope", index_dir=built_cli, check=False), "'nope'")
    assert json.loads(run("info", "zoo", "--json", index_dir=built_cli).stdout)["count"] == 8


def test_add_reads_the_text_and_id_columns_the_build_read(tmp_path, tiny_model, index_dir):
    first, more = tmp_path / "first.csv", tmp_path / "more.csv"
    first.write_text("key,body,score\np1,The cat naps in the sun.,5.0\np2,A puppy chews a shoe.,4.5\n")
    more.write_text("key,body,score\np3,An owl hunts at night.,5.0\n")
    run(
        "build",
        "pets",
        "--input",
        str(first),
        "--text-column",
        "body",
        "--id-column",
        "key",
        "--model",
        tiny_model,
        index_dir=index_dir,
    )
    run("add", "pets", "--input", str(more), index_dir=index_dir)  # no column flags: the build's are reused
    index = Index.open("pets", index_dir=index_dir)
    assert index.get("p3").text == "An owl hunts at night." and index.get("p3").metadata == {"score": 5.0}
    assert (index.manifest.text_column, index.manifest.id_column) == ("body", "key")
    rebuilt = index.rebuild()
    assert (rebuilt.manifest.text_column, rebuilt.manifest.id_column) == ("body", "key")


def test_add_upsert_reports_how_many_were_added_and_replaced(built_cli, tmp_path):
    changed = tmp_path / "changed.jsonl"
    changed.write_text('{"id": "a1", "text": "Owls hunt at night."}\n{"id": "n1", "text": "Bats too."}\n')
    result = run("add", "zoo", "--input", str(changed), "--upsert", index_dir=built_cli)
    assert "'zoo': 1 added, 1 replaced (now 9 texts)" in result.stderr


def test_rebuild_swaps_in_new_kind_with_same_results(built_cli):
    before = run("search", "zoo", "baking bread", "--json", index_dir=built_cli).stdout
    run("rebuild", "zoo", "--kind", "hnsw", index_dir=built_cli)
    assert json.loads(run("info", "zoo", "--json", index_dir=built_cli).stdout)["kind"] == "hnsw"
    after = run("search", "zoo", "baking bread", "--json", index_dir=built_cli).stdout
    assert [h["id"] for h in json.loads(after)["hits"]] == [h["id"] for h in json.loads(before)["hits"]]


BAD_INPUTS = {
    "missing file": (["build", "x", "--input", "nope.csv"], ["does not exist"]),
    "unknown extension": (["build", "x", "--input", "{tmp}/data.xlsx"], ["unknown input extension"]),
    "empty file": (["build", "x", "--input", "{tmp}/empty.txt"], ["is empty"]),
    "missing text column": (["build", "x", "--input", "{tmp}/cols.csv"], ["no text column", "title, body"]),
    "only blank texts": (["build", "x", "--input", "{tmp}/blank.txt"], ["nothing to index"]),
    "invalid utf-8": (["build", "x", "--input", "{tmp}/latin1.txt"], ["line 2", "UTF-8"]),
    "duplicate ids": (["build", "x", "--input", "{tmp}/dups.csv"], ["duplicate ids", "'7'"]),
    "unsafe name": (["build", "../up", "--input", "{tmp}/ok.txt"], ["invalid index name"]),
    "unknown index": (["search", "ghost", "hello"], ["no index named 'ghost'", "known: zoo"]),
    "empty query": (["search", "zoo", "   "], ["query is empty"]),
    "k below one": (["search", "zoo", "cats", "-k", "0"], ["k must be"]),
    "existing index": (["build", "zoo", "--input", "{tmp}/ok.txt"], ["exists already"]),
    "unknown kind": (["rebuild", "zoo", "--kind", "lsh"], ["unknown index kind", "flat"]),
    "offline hub model": (
        ["build", "y", "--input", "{tmp}/ok.txt", "--model", "nobody/no-such-model"],
        ["neither a local folder nor reachable"],
    ),
}


@pytest.fixture
def bad_files(tmp_path) -> Path:
    (tmp_path / "data.xlsx").write_text("x")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "cols.csv").write_text("title,body\na,b\n")
    (tmp_path / "blank.txt").write_text("  \n\t\n\n")
    (tmp_path / "latin1.txt").write_bytes("fine line\ncaf\xe9 au lait\n".encode("latin-1"))
    (tmp_path / "dups.csv").write_text("id,text\n7,one\n7,two\n")
    (tmp_path / "ok.txt").write_text("one text\n")
    return tmp_path


def index_files_digest(home: Path) -> dict[str, str]:
    """Every file of every index and build, by content: equal digests mean nothing was touched.
    SQLite's write-ahead log and its index (-wal, -shm) come and go with connections, so they are left out."""
    import hashlib

    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and ".locks" not in p.parts and not p.name.endswith(("-wal", "-shm"))
    }


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_error_and_leaves_index_alone(case, built_cli, bad_files, monkeypatch):
    before = index_files_digest(built_cli)
    args, fragments = BAD_INPUTS[case]
    monkeypatch.chdir(bad_files)
    result = run(*[a.format(tmp=bad_files) for a in args], index_dir=built_cli, check=False)
    assert_one_line_error(result, *fragments)
    assert index_files_digest(built_cli) == before
    assert list_indexes(built_cli) == ["zoo"]


def test_corrupted_index_file_gives_one_line_error(built_cli):
    (built_cli / "zoo" / "vectors-1.faiss").write_bytes(b"\x00" * 64)
    assert_one_line_error(run("search", "zoo", "cats", index_dir=built_cli, check=False), "damaged", "rebuild")


# Run in a child process: replaces os.replace so that the child kills itself with SIGKILL at the
# moment the finished, synced build would be swapped in by renaming the index link.
KILL_AT_LINK_SWAP = """
import os, signal, sys
from pathlib import Path

def unresolved_link(path):  # the link itself, not the build folder it points at
    return Path(path).parent.resolve() / Path(path).name

link = unresolved_link(sys.argv[1])
replace = os.replace

def replace_or_die(source, target, *args, **kwargs):
    if unresolved_link(target) == link:
        os.kill(os.getpid(), signal.SIGKILL)
    return replace(source, target, *args, **kwargs)

os.replace = replace_or_die
from simsearch.cli import app
app(sys.argv[2:], prog_name="simsearch")
"""


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_rebuild_killed_before_the_link_swap_keeps_old_index(tiny_model, index_dir, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"Sentence {i} describes item {i % 97} in some detail.\n" for i in range(300)))
    run("build", "big", "--input", str(texts), "--model", tiny_model, index_dir=index_dir)
    queries = ["item 5 in detail", "sentence 123", "some detail"]
    expected = [
        [(h.id, round(h.score, 5)) for h in hits]
        for hits in Index.open("big", index_dir=index_dir).search_batch(queries, k=5)
    ]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "SIMSEARCH_HOME": str(index_dir),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }  # the simsearch this test imports
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            KILL_AT_LINK_SWAP,
            str(index_dir / "big"),
            "rebuild",
            "big",
            "--kind",
            "hnsw",
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, f"the rebuild never reached the link swap: {child.stderr}"
    assert len(list((index_dir / ".builds").glob("big@*"))) == 2  # the new build is complete but unpublished

    reopened = Index.open("big", index_dir=index_dir)
    assert reopened.manifest.kind == "flat"
    assert [[(h.id, round(h.score, 5)) for h in hits] for hits in reopened.search_batch(queries, k=5)] == expected
    # the next writer clears the orphaned build away and succeeds
    run("rebuild", "big", "--kind", "hnsw", index_dir=index_dir)
    assert Index.open("big", index_dir=index_dir).manifest.kind == "hnsw"
    assert len(list((index_dir / ".builds").glob("big@*"))) == 1


def test_open_index_keeps_serving_while_a_rebuild_swaps_in(built_cli):
    serving = Index.open("zoo", index_dir=built_cli)
    before = [h.id for h in serving.search("cats", k=8)]
    run("rebuild", "zoo", "--kind", "hnsw", index_dir=built_cli)
    assert [h.id for h in serving.search("cats", k=8)] == before
    assert serving.is_stale()
    assert Index.open("zoo", index_dir=built_cli).manifest.kind == "hnsw"


def test_help_lists_the_commands(index_dir):
    result = run("--help", index_dir=index_dir)
    for command in ("build", "rebuild", "add", "delete", "search", "list", "info", "drop", "ui", "train", "eval"):
        assert command in result.stdout


def run_on_terminal(*args: str, index_dir: Path, answer: str = "") -> tuple[int, str]:
    """``simsearch ARGS`` as a real process whose stdin, stdout and stderr are a pseudo-terminal."""
    import pty
    import select

    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "SIMSEARCH_HOME": str(index_dir),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }  # the simsearch this test imports
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "simsearch", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    if answer:
        os.write(leader, answer.encode())
    output = b""
    try:
        while select.select([leader], [], [], 120)[0]:
            chunk = os.read(leader, 4096)
            if not chunk:
                break
            output += chunk
    except OSError:  # EIO: the child closed the terminal
        pass
    finally:
        os.close(leader)
    return child.wait(timeout=120), output.decode(errors="replace")


def test_drop_on_a_terminal_asks_first(built_cli):
    code, output = run_on_terminal("drop", "zoo", index_dir=built_cli, answer="n\n")
    assert code == 1 and "Delete index 'zoo'?" in output and "not dropped" in output
    assert list_indexes(built_cli) == ["zoo"]
    code, output = run_on_terminal("drop", "zoo", index_dir=built_cli, answer="y\n")
    assert code == 0 and "dropped 'zoo'" in output
    assert list_indexes(built_cli) == []


def test_loading_model_is_shown_on_a_terminal_only(built_cli, tiny_model):
    code, output = run_on_terminal("search", "zoo", "cats", "-k", "1", index_dir=built_cli)
    assert code == 0, output
    assert f"loading model {tiny_model} …" in output
    assert "  1. " in output  # the hit itself follows
    off_terminal = run("search", "zoo", "cats", "-k", "1", index_dir=built_cli)
    assert "loading model" not in off_terminal.stderr + off_terminal.stdout


# --- sync, compact and the segments in info ---------------------------------------------------------------
def test_sync_prints_what_it_did_and_makes_the_index_hold_the_file(built_cli, tmp_path, animals):
    import pandas as pd

    rows = [dict(row) for row in animals if row["id"] != "a8"]
    rows[0]["text"] = "The cat now sleeps on the sofa."  # a1 re-encoded
    rows[1]["category"] = "dogs"  # a2: metadata only
    rows.append({"id": "n1", "text": "A parrot repeats every word it hears.", "category": "pets"})
    edited = tmp_path / "edited.csv"
    pd.DataFrame(rows).to_csv(edited, index=False)
    result = run("sync", "zoo", "--input", str(edited), index_dir=built_cli)
    assert result.stdout.strip() == "zoo: 1 added, 2 changed, 1 removed, 5 unchanged"
    index = Index.open("zoo", index_dir=built_cli)
    assert sorted(d.id for d in index.documents()) == sorted(row["id"] for row in rows)
    assert index.get("a2").metadata == {"category": "dogs"} and index.get("a1").text.startswith("The cat now")
    again = run("sync", "zoo", "--input", str(edited), index_dir=built_cli)
    assert again.stdout.strip() == "zoo: 0 added, 0 changed, 0 removed, 8 unchanged"


def test_sync_refuses_rows_without_ids_in_one_line(built_cli, tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("one text\nanother\n")
    assert_one_line_error(
        run("sync", "zoo", "--input", str(plain), index_dir=built_cli, check=False),
        "have no id; sync matches documents by id",
    )
    assert len(Index.open("zoo", index_dir=built_cli)) == 8


def test_compact_folds_and_info_shows_the_segments(built_cli):
    run("delete", "zoo", "a1", "a2", index_dir=built_cli)
    info = run("info", "zoo", index_dir=built_cli).stdout
    assert "base 8 vectors, delta 0 rows, dead 2" in info and "compacted at  never" in info
    result = run("compact", "zoo", index_dir=built_cli)
    assert "compacted 'zoo' in" in result.stderr and "2 deleted ones dropped, base now 6" in result.stderr
    info = run("info", "zoo", "--json", index_dir=built_cli).stdout
    details = json.loads(info)
    assert (details["base_vectors"], details["delta_vectors"], details["dead_vectors"]) == (6, 0, 0)
    assert details["compacted_at"] is not None
    assert "nothing to compact" in run("compact", "zoo", index_dir=built_cli).stderr


def test_version_flag_prints_the_version(index_dir):
    from simsearch import __version__

    assert run("--version", index_dir=index_dir).stdout == f"simsearch {__version__}\n"


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (["get"], " get [OPTIONS] NAME ID"),
        (["reranker", "--help"], " reranker [OPTIONS] NAME [FOLDER]"),
        (["delete", "--help"], " delete [OPTIONS] NAME IDS..."),
    ],
)
def test_usage_lines_name_the_arguments_as_typed(index_dir, command, usage):
    result = run(*command, index_dir=index_dir, check=False)
    assert usage in result.output and "{" not in result.output.splitlines()[0]


def test_counts_are_written_with_the_noun_in_the_right_number():
    from simsearch.formatting import count

    assert [count(1, "result"), count(0, "result"), count(1200, "text")] == ["1 result", "0 results", "1,200 texts"]
