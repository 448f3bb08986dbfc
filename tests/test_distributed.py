"""Builds on a local Ray (2 CPUs) give the index a one-machine build gives; bad engine input is one line.

One Ray session serves the whole module (``ray_session``): starting Ray and its actors
costs seconds. The Ray tests skip when the ``ray`` extra is not installed; the cold-start
and missing-extra tests run either way.
"""

from __future__ import annotations

import gzip
import importlib.util
import ipaddress
import itertools
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from simsearch import Index, load_encoder
from simsearch.cli import app
from simsearch.errors import InvalidArgumentError
from simsearch.index.engines import build_engine
from tests.conftest import REPO, SHARED_DATA

WIKI = SHARED_DATA / "wikipedia_sentences" / "sentences.tsv.gz"
N_TEXTS = 3000
SAME_MANIFEST = ("model", "kind", "params", "count", "encoder_backend", "simsearch_version", "format_version")


def wiki_rows(count: int) -> list[dict]:
    """The first ``count`` sentences with their own ids (``12-0``), so an id mix-up shows."""
    if not WIKI.exists():
        pytest.skip("../shared/data/wikipedia_sentences not present")
    with gzip.open(WIKI, "rt", encoding="utf-8") as handle:
        lines = list(itertools.islice(handle, 1, count + 1))
    return [
        {"id": cells[0], "text": cells[3], "title": cells[2]}
        for cells in (line.rstrip("\n").split("\t", 3) for line in lines)
    ]


@pytest.fixture(scope="module")
def ray_session():
    """A local Ray with 2 CPUs for the module; the engine joins it and leaves it running between builds.

    Ray is not imported before ``start_ray``, as in the CLI: importing it first would leave it listening
    on every interface (``test_local_ray_listens_on_loopback_only``).
    """
    if importlib.util.find_spec("ray") is None:
        pytest.skip("the ray extra is not installed (pip install 'simsearch[ray]')")
    from simsearch.index.distributed import start_ray

    start_ray(num_cpus=2)
    import ray

    yield
    ray.shutdown()


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_local_ray_listens_on_loopback_only(ray_session):
    """Ray's GCS, raylet and worker servers, all started under this process, accept connections on 127.0.0.1 only."""
    import psutil

    ray_processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
    listening = {
        (process.name(), connection.laddr.ip, connection.laddr.port)
        for process in ray_processes
        for connection in process.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    }
    assert any(name == "gcs_server" for name, _, _ in listening), listening  # Ray's servers were found
    assert {(name, ip, port) for name, ip, port in listening if not _loopback(ip)} == set()


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return address.is_loopback or bool(getattr(address, "ipv4_mapped", None) and address.ipv4_mapped.is_loopback)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return wiki_rows(N_TEXTS)


@pytest.fixture(scope="module")
def pair(ray_session, tiny_model, rows, tmp_path_factory):
    """For flat and ivf: the same rows built locally and on Ray with the tiny model."""
    home = tmp_path_factory.mktemp("indexes")
    encoder = load_encoder(tiny_model)
    built, progress = {}, {}
    for kind in ("flat", "ivf"):
        local = Index.build(f"local-{kind}", rows, encoder=encoder, kind=kind, index_dir=home)
        calls = progress[kind] = []
        with build_engine("ray", workers=2) as engine:
            on_ray = Index.build(
                f"ray-{kind}",
                rows,
                encoder=encoder,
                kind=kind,
                index_dir=home,
                engine=engine,
                on_progress=lambda done, total, calls=calls: calls.append((done, total)),
            )
        built[kind] = (local, on_ray)
    return built, progress


def top_ids(index: Index, queries: list[str], k: int = 10) -> list[list[str]]:
    return [[hit.id for hit in hits] for hits in index.search_batch(queries, k, mode="dense")]


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_ray_build_has_the_local_builds_ids_manifest_and_top_10(pair, rows, kind):
    local, on_ray = pair[0][kind]
    assert [doc.id for doc in on_ray.documents()] == [doc.id for doc in local.documents()] == [r["id"] for r in rows]
    assert {f: on_ray.manifest.to_dict()[f] for f in SAME_MANIFEST} == {
        f: local.manifest.to_dict()[f] for f in SAME_MANIFEST
    }
    queries = [row["text"] for row in rows[::97]]
    assert top_ids(on_ray, queries) == top_ids(local, queries)
    np.testing.assert_allclose(
        on_ray.vectors([r["id"] for r in rows[:50]]), local.vectors([r["id"] for r in rows[:50]]), atol=1e-5
    )


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_ray_ivf_has_the_local_ivfs_recall_against_exact_search(pair, rows):
    queries = [row["text"] for row in rows[5::61]]
    exact = top_ids(pair[0]["flat"][0], queries)

    def recall(index: Index) -> float:
        found = top_ids(index, queries)
        return float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]))

    local, on_ray = pair[0]["ivf"]
    assert recall(on_ray) == recall(local) > 0.5


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_ray_build_reports_progress_as_blocks_come_back(pair, kind):
    calls = pair[1][kind]
    assert len(calls) == -(-N_TEXTS // 1024)  # one call per 1,024-text block
    assert [done for done, _ in calls] == sorted(done for done, _ in calls) and calls[-1] == (N_TEXTS, N_TEXTS)


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_rebuild_on_ray_keeps_ids_and_results(pair, rows):
    local, on_ray = pair[0]["flat"]
    with build_engine("ray", workers=1) as engine:
        rebuilt = on_ray.rebuild(engine=engine)
    assert rebuilt.manifest.build_id != on_ray.manifest.build_id
    queries = [row["text"] for row in rows[11::211]]
    assert top_ids(rebuilt, queries) == top_ids(local, queries)


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_worker_with_other_weights_fails_the_build_and_the_old_index_stays(ray_session, tiny_checkpoint, tmp_path):
    """A node whose model folder holds other weights than the driver's must not write its vectors."""
    from simsearch.testing import write_tiny_bert

    folder = write_tiny_bert(tmp_path / "model", initializer_range=0.2, seed=1)
    driver_encoder = load_encoder(folder, "mean")  # cached in this process: the driver keeps these weights
    old = Index.build("kept", ["first text", "second text"], encoder=driver_encoder, index_dir=tmp_path / "idx")
    write_tiny_bert(folder, initializer_range=0.2, seed=2)  # what a worker will now load from the same path
    with pytest.raises(Exception, match="fingerprint"):
        with build_engine("ray", workers=1) as engine:
            Index.build(
                "kept",
                ["other text"] * 3,
                encoder=driver_encoder,
                index_dir=tmp_path / "idx",
                overwrite=True,
                engine=engine,
            )
    kept = Index.open("kept", index_dir=tmp_path / "idx")
    assert kept.manifest.build_id == old.manifest.build_id and len(kept) == 2
    assert len(list((tmp_path / "idx" / ".builds").iterdir())) == 1


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_encoder_actor_killed_midway_is_restarted_and_the_build_completes(ray_session, rows, tiny_model, tmp_path):
    """After the first block comes back one encoder actor's process is killed; Ray restarts it and re-runs its work."""
    import psutil  # a dependency of ray

    killed = []

    def kill_one_worker(done: int, total: int) -> None:
        if not killed:  # this test's local Ray runs under this process; its actors are named after their class
            actors = [p for p in psutil.Process().children(recursive=True) if "EncoderWorker" in " ".join(p.cmdline())]
            actors[0].kill()
            killed.append(actors[0].pid)

    encoder = load_encoder(tiny_model)
    with build_engine("ray", workers=2) as engine:
        survived = Index.build(
            "survived",
            rows,
            encoder=encoder,
            kind="flat",
            index_dir=tmp_path,
            engine=engine,
            on_progress=kill_one_worker,
        )
    assert killed
    local = Index.build("local", rows, encoder=encoder, kind="flat", index_dir=tmp_path)
    queries = [row["text"] for row in rows[::131]]
    assert top_ids(survived, queries) == top_ids(local, queries)


@pytest.mark.slow
def test_default_model_on_ray_gives_the_local_top_10(ray_session, default_encoder, tmp_path):
    rows = wiki_rows(400)
    local = Index.build("l", rows, encoder=default_encoder, kind="flat", index_dir=tmp_path)
    with build_engine("ray", workers=2) as engine:
        on_ray = Index.build("r", rows, encoder=default_encoder, kind="flat", index_dir=tmp_path, engine=engine)
    queries = ["the history of political philosophy", "a city in Europe", "a famous painter", rows[7]["text"]]
    assert top_ids(on_ray, queries) == top_ids(local, queries)


@pytest.mark.slow  # spawns processes or a Ray session: left to `make test`, out of `make check`
def test_cli_build_on_ray_from_a_folder(ray_session, tiny_model, rows, tmp_path):
    source = tmp_path / "corpus"
    source.mkdir()
    for part in range(2):
        (source / f"part-{part}.txt").write_text("\n".join(r["text"] for r in rows[part * 300 : (part + 1) * 300]))
    result = CliRunner().invoke(
        app,
        [
            "build",
            "wiki",
            "--input",
            str(source),
            "--model",
            tiny_model,
            "--engine",
            "ray",
            "--workers",
            "2",
            "--index-dir",
            str(tmp_path / "idx"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(Index.open("wiki", index_dir=tmp_path / "idx")) == 600


@pytest.mark.parametrize("kind", ["ivf", "ivfpq", "ivfsq"])
def test_ivf_filled_in_parts_and_merged_equals_one_build_byte_for_byte(kind):
    import faiss

    from simsearch.index.ray_workers import filled_copy
    from simsearch.testing import unit_vectors
    from simsearch.vectors import create_vector_index

    vectors, ids = unit_vectors(3000, 32, seed=3), np.arange(7, 3007, dtype=np.int64)
    params = {"m": 8} if kind == "ivfpq" else None
    whole, parts = create_vector_index(kind, 32, 3000, params), create_vector_index(kind, 32, 3000, params)
    whole.build(vectors, ids)
    parts.build_from_parts(vectors, ids, 3, lambda trained, slices: [filled_copy(trained, *s) for s in slices])
    assert np.array_equal(faiss.serialize_index(parts._cpu), faiss.serialize_index(whole._cpu))


# --- bad input: one line, exit 1, nothing written -------------------------------------------


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--engine", "spark"], "error: unknown build engine 'spark'; valid: local, ray."),
        (["--workers", "2"], "apply to the ray engine only; use --engine ray, or leave them out."),
        (["--engine", "ray", "--workers", "0"], "workers must be a whole number of at least 1 (got 0)."),
        (["--engine", "ray", "--ray-address", "nowhere"], "Ray address 'nowhere' is not auto, host:port or ray://"),
        (["--engine", "ray", "--ray-address", "ray://127.0.0.1:9"], "no Ray cluster answers at 'ray://127.0.0.1:9'"),
        (["--engine", "ray", "--gpus-per-worker", "0"], "GPUs per worker must be more than 0"),
    ],
)
def test_bad_engine_flags_are_one_line_and_write_nothing(flags, message, tmp_path):
    if "ray" in flags:
        pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'simsearch[ray]')")
    source = tmp_path / "texts.txt"
    source.write_text("one text\nanother text\n")
    result = CliRunner().invoke(
        app, ["build", "x", "--input", str(source), "--index-dir", str(tmp_path / "idx"), *flags]
    )
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "idx").exists() or not list((tmp_path / "idx").iterdir())


def test_ray_engine_without_the_extra_names_the_install(tmp_path):
    source = tmp_path / "texts.txt"
    source.write_text("one text\n")
    blocked = (
        "import sys; sys.modules['ray'] = None; sys.argv = ['simsearch'] + sys.argv[1:]; "
        "from simsearch.cli import main; main()"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            blocked,
            "build",
            "x",
            "--input",
            str(source),
            "--engine",
            "ray",
            "--index-dir",
            str(tmp_path / "idx"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: the ray engine needs Ray; pip install 'simsearch[ray]'"


def test_engine_in_python_refuses_ray_settings_for_the_local_engine():
    with pytest.raises(InvalidArgumentError, match='pass engine="ray" to build_engine'):
        with build_engine("local", workers=2):
            pass


def test_import_help_and_a_search_never_import_ray(tiny_model, tmp_path):
    """The default install and the CLI's cold start must not pay for Ray's import (seconds)."""
    Index.build("small", ["a cat sleeps", "rain falls"], encoder=load_encoder(tiny_model), index_dir=tmp_path)
    script = (
        "import sys, contextlib, io\n"
        "import simsearch\n"
        "from simsearch.cli import app\n"
        "from typer.testing import CliRunner\n"
        "runner = CliRunner()\n"
        "assert runner.invoke(app, ['--help']).exit_code == 0\n"
        f"result = runner.invoke(app, ['search', 'small', 'a cat', '--index-dir', {str(tmp_path)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('ray' in sys.modules, 'simsearch.index.distributed' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
