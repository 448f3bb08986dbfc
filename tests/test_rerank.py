"""Re-ranking: a cross-encoder in ONNX Runtime re-scores the first stage's hits (API, CLI, index default, blend)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from simsearch import Index, load_encoder
from simsearch.cli import app
from simsearch.errors import InvalidArgumentError
from simsearch.query import check_cross_encoder, is_cross_encoder, load_reranker
from simsearch.query.blend import Blend, write_settings
from simsearch.testing import write_scored


@pytest.fixture
def zoo(tiny_model, index_dir, animals) -> Index:
    return Index.build("zoo", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)


def run_cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_onnx_scores_equal_the_torch_cross_encoder(cross_encoder):
    from sentence_transformers import CrossEncoder

    pairs = [
        ("a cat sat", "the cat is on the mat"),
        ("dogs bark", "a long sentence about markets and rates " * 3),
        ("x", "y"),
    ]
    expected = CrossEncoder(cross_encoder).predict(pairs)
    reranker = load_reranker(cross_encoder, quantized=False)
    assert np.allclose(reranker.pair_scores([a for a, _ in pairs], [b for _, b in pairs]), expected, atol=1e-5)
    # batching sorts pairs by length: the order of the answers must still be the order asked
    assert np.allclose(reranker.pair_scores(*zip(*pairs[::-1]), batch_size=1), expected[::-1], atol=1e-5)
    int8 = load_reranker(cross_encoder)  # the default: int8 weights, close to fp32
    assert int8.quantized and np.allclose(int8.pair_scores(*zip(*pairs)), expected, atol=0.02)


def test_an_int8_pair_scores_the_same_alone_or_among_others(cross_encoder, animals):
    """int8 scales activations per run, so each pair runs alone (the runs side by side on the cores)."""
    int8 = load_reranker(cross_encoder)
    texts = [animal["text"] for animal in animals]
    together = int8.rerank_scores("a pet in the park", texts)
    alone = [int8.rerank_scores("a pet in the park", [text])[0] for text in texts]
    assert together.tolist() == alone  # bit for bit


def test_reranked_hits_are_sorted_by_the_cross_encoder_and_keep_the_first_score(zoo, cross_encoder):
    first = zoo.search("a pet in the park", k=8, mode="dense")
    hits = zoo.search("a pet in the park", k=3, mode="dense", rerank=cross_encoder)
    expected = load_reranker(cross_encoder).rerank_scores("a pet in the park", [hit.text for hit in first])
    best = np.argsort(-expected, kind="stable")[:3]
    assert [hit.id for hit in hits] == [first[i].id for i in best]
    assert [hit.score for hit in hits] == pytest.approx([float(expected[i]) for i in best])
    assert [hit.first_score for hit in hits] == pytest.approx([first[i].score for i in best])
    assert hits[0].to_dict()["first_score"] == hits[0].first_score and "first_score" not in first[0].to_dict()


def test_rerank_depth_limits_the_candidates(zoo, cross_encoder):
    top2 = {hit.id for hit in zoo.search("a pet in the park", k=2, mode="dense")}
    reranked = zoo.search("a pet in the park", k=2, mode="dense", rerank=cross_encoder, rerank_depth=2)
    assert {hit.id for hit in reranked} == top2
    result = zoo.query(["cats", "rain"], k=2, rerank=cross_encoder)
    assert result.timings.rerank_ms > 0 and all(len(found) == 2 for found in result.hits)


def test_a_full_blend_with_the_index_model_reproduces_the_dense_ranking(zoo, cross_encoder, tiny_model, tmp_path):
    """Blend weight 1 is the bi-encoder's cosine alone: the re-ranker must then agree with dense search."""
    import shutil

    blended = tmp_path / "blended"
    shutil.copytree(cross_encoder, blended)
    write_settings(blended, Blend(tiny_model, 1.0), {})
    dense = zoo.search("bread and soup", k=5, mode="dense")
    reranked = zoo.search("bread and soup", k=5, mode="hybrid", rerank=blended, rerank_depth=8)
    assert [hit.id for hit in reranked] == [hit.id for hit in dense]
    assert [hit.score for hit in reranked] == pytest.approx([hit.score for hit in dense], abs=1e-5)


def test_the_blend_reuses_the_searchs_query_vectors_and_the_indexs_stored_ones(
    zoo, cross_encoder, tiny_model, tmp_path, monkeypatch
):
    """With the index's own model in the blend, re-ranking whole texts encodes nothing the search already has."""
    import shutil

    blended = tmp_path / "blended"
    shutil.copytree(cross_encoder, blended)
    write_settings(blended, Blend(tiny_model, 0.5), {})
    reranker = load_reranker(blended)
    reranker._vectors.clear()
    expected = reranker.pair_scores(["bread and soup"] * 8, [hit.text for hit in zoo.search("bread and soup", k=8)])
    reranker._vectors.clear()
    encoded: list[str] = []
    blend_encoder = reranker._blend_encoder
    monkeypatch.setattr(
        blend_encoder,
        "encode",
        lambda texts, *args, **kwargs: (
            encoded.extend(texts) or type(blend_encoder).encode(blend_encoder, texts, *args, **kwargs)
        ),
    )
    hits = zoo.search("bread and soup", k=8, mode="hybrid", rerank=reranker, rerank_depth=8)
    assert encoded == []
    assert sorted(hit.score for hit in hits) == pytest.approx(sorted(expected.tolist()), abs=1e-5)
    reranker._vectors.clear()
    assert len(zoo.search("the cat and the dog", k=8, mode="lexical", rerank=reranker, rerank_depth=8)) == 2
    assert encoded == ["the cat and the dog"]  # lexical mode has no query vector: only the query is encoded
    fresh = Index.open("zoo", index_dir=zoo.home)  # lexical mode loads no model: nothing to share, nothing fails
    assert len(fresh.search("the cat and the dog", k=8, mode="lexical", rerank=reranker, rerank_depth=8)) == 2


def test_bad_rerankers_and_depths_are_refused_in_one_line(zoo, cross_encoder, tiny_model, tmp_path):
    with pytest.raises(InvalidArgumentError, match="is a bi-encoder .* not a cross-encoder"):
        zoo.search("cats", rerank=tiny_model)
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        zoo.search("cats", rerank=tmp_path / "missing")
    (tmp_path / "notes").mkdir()
    with pytest.raises(InvalidArgumentError, match="not a model folder"):
        zoo.search("cats", rerank=tmp_path / "notes")
    with pytest.raises(InvalidArgumentError, match=r"re-rank depth \(3\) is below the number of hits asked for \(5\)"):
        zoo.search("cats", k=5, rerank=cross_encoder, rerank_depth=3)
    assert is_cross_encoder(cross_encoder) and not is_cross_encoder(tiny_model)
    assert check_cross_encoder(cross_encoder).is_dir()


def test_cli_search_reranks_single_and_batch_queries(zoo, cross_encoder, index_dir, tmp_path):
    single = run_cli(
        "search",
        "zoo",
        "a pet in the park",
        "-k",
        "2",
        "--json",
        "--rerank",
        cross_encoder,
        "--index-dir",
        str(index_dir),
    )
    assert single.exit_code == 0, single.output
    hits = json.loads(single.stdout.strip().splitlines()[-1])["hits"]
    assert len(hits) == 2 and all("first_score" in hit for hit in hits)
    assert hits[0]["score"] >= hits[1]["score"]
    queries = tmp_path / "queries.txt"
    queries.write_text("a pet in the park\n\nrain\n")
    batch = run_cli(
        "search",
        "zoo",
        "--queries",
        str(queries),
        "-k",
        "2",
        "--json",
        "--rerank",
        cross_encoder,
        "--index-dir",
        str(index_dir),
    )
    lines = [json.loads(line) for line in batch.stdout.strip().splitlines()]
    assert batch.exit_code == 0 and len(lines) == 3 and "error" in lines[1]
    assert lines[0]["hits"] == hits  # a query re-ranks the same alone or in a batch


def test_cli_refuses_a_bi_encoder_and_a_shallow_depth_in_one_line(zoo, cross_encoder, tiny_model, index_dir):
    bi = run_cli("search", "zoo", "cats", "--rerank", tiny_model, "--index-dir", str(index_dir))
    assert bi.exit_code == 1 and "is a bi-encoder" in bi.stderr and "--rerank" in bi.stderr
    assert len(bi.stderr.strip().splitlines()) == 1
    shallow = run_cli(
        "search",
        "zoo",
        "cats",
        "-k",
        "5",
        "--rerank",
        cross_encoder,
        "--rerank-depth",
        "2",
        "--index-dir",
        str(index_dir),
    )
    assert shallow.exit_code == 1 and "--rerank-depth of at least --top-k" in shallow.stderr
    alone = run_cli("search", "zoo", "cats", "--rerank-depth", "20", "--index-dir", str(index_dir))
    assert alone.exit_code == 1 and "needs a re-ranker" in alone.stderr


def test_an_open_server_picks_up_the_default_reranker_set_by_another_process(zoo, cross_encoder, index_dir):
    import os
    import subprocess
    import sys

    from simsearch.serving.state import OpenIndexes
    from tests.conftest import REPO

    served = OpenIndexes(index_dir)
    assert served.get("zoo").manifest.reranker is None
    assert all(hit.first_score is None for hit in served.get("zoo").search("cats", k=3))
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "simsearch", "reranker", "zoo", cross_encoder, "--index-dir", str(index_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert zoo.is_stale()  # the update time moved, so every open index knows to reopen
    assert served.get("zoo").manifest.reranker == str(check_cross_encoder(cross_encoder))
    assert all(hit.first_score is not None for hit in served.get("zoo").search("cats", k=3))
    served.close()


def test_setting_the_reranker_keeps_the_count_another_process_added(zoo, cross_encoder, index_dir):
    other = Index.open("zoo", index_dir=index_dir)
    other.add([{"id": "n1", "text": "A parrot repeats every word."}])
    zoo.set_reranker(cross_encoder)
    reopened = Index.open("zoo", index_dir=index_dir)
    assert reopened.manifest.count == len(reopened) == 9 and reopened.manifest.reranker is not None


def test_an_index_default_reranker_applies_until_switched_off(zoo, cross_encoder, index_dir):
    zoo.set_reranker(cross_encoder)
    reopened = Index.open("zoo", index_dir=index_dir)
    assert reopened.manifest.reranker == str(check_cross_encoder(cross_encoder))
    assert all(hit.first_score is not None for hit in reopened.search("cats", k=3))
    assert all(hit.first_score is None for hit in reopened.search("cats", k=3, rerank=False))
    shown = run_cli("reranker", "zoo", "--index-dir", str(index_dir))
    assert shown.exit_code == 0 and reopened.manifest.reranker in shown.stdout
    cleared = run_cli("reranker", "zoo", "--clear", "--index-dir", str(index_dir))
    assert cleared.exit_code == 0 and Index.open("zoo", index_dir=index_dir).manifest.reranker is None


def test_eval_sts_scores_with_a_cross_encoder_and_its_blend(cross_encoder, tmp_path):
    from simsearch.training.pair_metrics import correlation_metrics
    from simsearch.training.pairs import read_pairs

    pairs_file = write_scored(tmp_path / "sts.csv", 24, seed=3)
    result = run_cli("eval", "sts", str(pairs_file), "--model", cross_encoder, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    pairs = read_pairs(pairs_file)
    expected = correlation_metrics(
        load_reranker(cross_encoder).pair_scores(pairs.texts["sentence1"], pairs.texts["sentence2"]), pairs
    )
    assert set(report) == {"model", "count", "spearman", "pearson"}
    assert report["spearman"] == pytest.approx(expected["spearman"])


def test_eval_paraphrase_reranks_within_the_depth(cross_encoder, tiny_model, tmp_path):
    pairs_file = write_scored(tmp_path / "dev.csv", 30, seed=2)
    result = run_cli(
        "eval",
        "paraphrase",
        str(pairs_file),
        "--model",
        tiny_model,
        "--rerank",
        cross_encoder,
        "--rerank-depth",
        "10",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "re-ranked by" in report["model"] and 0 <= report["recall@1"] <= report["recall@10"] <= 100
