"""Hybrid fusion settings compared: nDCG@10 on cisi, the STS-B dev paraphrase set and the long-text set.

Builds one flat index per set with the default model (fp32 ONNX: torch's vectors within
1e-5, faster), cached under the temp folder (simsearch-bench/fusion), then searches each in
hybrid mode once per ``Fusion`` setting given as JSON, plus dense and lexical alone for
reference. What chose ``Fusion()``'s defaults (README, "Search modes").

    python benchmarks/fusion_sweep.py                     # the README's sweep
    python benchmarks/fusion_sweep.py '[{"method": "zscore", "dense_weight": 1.25}, {"method": "rrf"}]'
    python benchmarks/fusion_sweep.py --sets cisi,stsb --query-words   # stop words and coverage, on and off

A setting may also name ``"stop_words": "none"`` (SIMSEARCH_STOP_WORDS for that row: every query
word kept). ``--query-words`` sweeps the query words instead: English stop words left out or not,
the lexical list weighed by coverage or not, the default fusion otherwise, lexical alone beside.
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
SWEEP = (
    [{"method": "zscore", "dense_weight": w} for w in (0.75, 1.0, 1.25, 1.5)]
    + [{"method": "score", "dense_weight": w} for w in (1.0, 1.5)]
    + [{"method": "rrf", "dense_weight": 1.0}]
)
QUERY_WORDS = [{"stop_words": "none", "coverage": False}, {"coverage": False}, {"stop_words": "none"}, {}]


def retrieval_sets(names: list[str]) -> dict:
    from simsearch.training.longtext import longtext_retrieval_set
    from simsearch.training.retrieval_sets import paraphrase_retrieval_set, read_beir

    cisi = DATA / "cisi"
    readers = {
        "cisi": lambda: read_beir(cisi / "corpus.jsonl", cisi / "queries.jsonl", cisi / "qrels" / "test.tsv"),
        "stsb": lambda: paraphrase_retrieval_set([DATA / "stsb" / "dev.csv"]),
        "long": lambda: (
            longtext_retrieval_set(DATA / "stsb" / "dev.csv", DATA / "wikipedia_sentences" / "sentences.tsv.gz").data
        ),
    }
    return {name: readers[name]() for name in names}


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
    import argparse

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from simsearch import load_encoder
    from simsearch.query.fusion import Fusion
    from simsearch.training.retrieval_metrics import index_retrieval_metrics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="?", help="a JSON list of Fusion settings (default: the README's sweep)")
    parser.add_argument("--sets", default="cisi,stsb,long", help="any of cisi, stsb, long")
    parser.add_argument("--query-words", action="store_true", help="sweep stop words and coverage instead")
    args = parser.parse_args()
    settings = json.loads(args.settings) if args.settings else QUERY_WORDS if args.query_words else SWEEP
    sets = retrieval_sets(args.sets.split(","))
    indexes = cached_indexes(sets, load_encoder(backend="onnx"))
    rows = [("dense alone", "dense", {})]
    rows += [("lexical alone, stop words kept", "lexical", {"stop_words": "none"})] if args.query_words else []
    rows += [("lexical alone", "lexical", {})] + [(json.dumps(setting), "hybrid", setting) for setting in settings]
    print("| setting | " + " | ".join(sets) + " |\n|---|" + "---:|" * len(sets))
    for label, mode, setting in rows:
        os.environ["SIMSEARCH_STOP_WORDS"] = setting.get("stop_words", "english")
        fusion = Fusion(**{key: value for key, value in setting.items() if key != "stop_words"})
        figures = [
            index_retrieval_metrics(indexes[name], data, 64, mode, fusion=fusion)["ndcg@10"]
            for name, data in sets.items()
        ]
        print(f"| {label} | " + " | ".join(f"{figure:.2f}" for figure in figures) + " |", flush=True)


if __name__ == "__main__":
    main()
