"""Hybrid fusion settings compared: nDCG@10 on cisi, the STS-B dev paraphrase set and the long-text set.

Builds one flat index per set with the default model (fp32 ONNX: torch's vectors within
1e-5, faster), cached under the temp folder (simsearch-bench/fusion), then searches each in
hybrid mode once per ``Fusion`` setting given as JSON, plus dense and lexical alone for
reference. What chose ``Fusion()``'s defaults (README, "Search modes").

    python benchmarks/fusion_sweep.py                     # the README's sweep
    python benchmarks/fusion_sweep.py '[{"method": "zscore", "dense_weight": 1.25}, {"method": "rrf"}]'
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's simsearch, not an installed one
DATA = REPO.parent / "shared" / "data"
SWEEP = [{"method": "zscore", "dense_weight": w} for w in (0.75, 1.0, 1.25, 1.5)] + [
    {"method": "score", "dense_weight": w} for w in (1.0, 1.5)] + [{"method": "rrf", "dense_weight": 1.0}]


def retrieval_sets() -> dict:
    from simsearch.training.evaluate import paraphrase_retrieval_set, read_beir
    from simsearch.training.longtext import longtext_retrieval_set

    cisi = DATA / "cisi"
    return {"cisi": read_beir(cisi / "corpus.jsonl", cisi / "queries.jsonl", cisi / "qrels" / "test.tsv"),
            "stsb": paraphrase_retrieval_set([DATA / "stsb" / "dev.csv"]),
            "long": longtext_retrieval_set(DATA / "stsb" / "dev.csv",
                                           DATA / "wikipedia_sentences" / "sentences.tsv.gz").data}


def cached_indexes(sets: dict, encoder) -> dict:
    """One flat index per set, built once and reused by later runs."""
    from simsearch import Index
    from simsearch.errors import IndexNotFoundError

    home = Path(tempfile.gettempdir()) / "simsearch-bench" / "fusion"
    indexes = {}
    for name, data in sets.items():
        try:
            indexes[name] = Index.open(name, index_dir=home, encoder=encoder)
        except IndexNotFoundError:
            documents = [{"id": doc, "text": text} for doc, text in data.corpus.items()]
            indexes[name] = Index.build(name, documents, encoder=encoder, kind="flat", index_dir=home)
    return indexes


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from simsearch import load_encoder
    from simsearch.query.fusion import Fusion
    from simsearch.training.evaluate import index_retrieval_metrics

    settings = json.loads(sys.argv[1]) if len(sys.argv) > 1 else SWEEP
    sets = retrieval_sets()
    indexes = cached_indexes(sets, load_encoder(backend="onnx"))
    print("| setting | " + " | ".join(sets) + " |\n|---|" + "---:|" * len(sets))
    for label, mode, fusion in [("dense alone", "dense", None), ("lexical alone", "lexical", None)] + [
            (json.dumps(setting), "hybrid", Fusion(**setting)) for setting in settings]:
        figures = [index_retrieval_metrics(indexes[name], data, 64, mode, fusion=fusion)["ndcg@10"]
                   for name, data in sets.items()]
        print(f"| {label} | " + " | ".join(f"{figure:.2f}" for figure in figures) + " |", flush=True)


if __name__ == "__main__":
    main()
