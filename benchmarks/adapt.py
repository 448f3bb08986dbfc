"""Does adapting the encoder to a corpus's own texts (TSDAE, simsearch.training.adapt) help dense retrieval?

    python benchmarks/adapt.py                     # cisi, 1 epoch; ~15-25 min on 2 shared cores
    python benchmarks/adapt.py --markdown          # the last run's table

CISI (../shared/data/cisi, BEIR layout): the corpus's 1,460 abstracts (titles and texts) are the
only training data; its judged queries and qrels are used for scoring alone. Dense nDCG@10 and the
other retrieval figures (x100, exact search) of the default model before, against the adapted model
after, plus the adaptation's wall time on this machine. Results go to benchmarks/results/adapt.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "cisi"  # ../shared/data/cisi from the repository root
RESULTS = REPO / "benchmarks" / "results" / "adapt.json"


def measure(data_folder: Path, model: str | None, epochs: int, limit: int | None) -> dict:
    import torch

    from simsearch import load_encoder
    from simsearch.training.adapt import adapt_model, split_sentences
    from simsearch.training.evaluate import read_beir, retrieval_metrics

    data = read_beir(data_folder / "corpus.jsonl", data_folder / "queries.jsonl", data_folder / "qrels" / "test.tsv")
    texts = list(data.corpus.values())[:limit]
    started = time.perf_counter()
    before = retrieval_metrics(load_encoder(model, None, "torch"), data)
    print(f"before: nDCG@10 {before['ndcg@10']:.2f} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        result = adapt_model(texts, Path(folder) / "adapted", base=model, epochs=epochs, progress=True,
                             say=lambda line: print(line, file=sys.stderr))
        seconds = time.perf_counter() - started
        after = retrieval_metrics(load_encoder(str(result.output), None, "torch"), data)
    return {"model": model or "all-MiniLM-L6-v2", "documents": len(texts), "sentences": len(split_sentences(texts)),
            "epochs": epochs, "steps": result.steps, "final_loss": result.final_loss, "adapt_s": round(seconds, 1),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "before": before, "after": after}


def markdown(results: dict) -> str:
    lines = [f"CISI, dense exact search, {results['model']} before and after TSDAE on the corpus's "
             f"{results['sentences']} sentences ({results['documents']} documents), {results['epochs']} epoch "
             f"({results['steps']} steps of 8) in {results['adapt_s'] / 60:.1f} min on {results['cpus']} CPUs "
             f"({results['torch_threads']} torch thread(s)).", "",
             "| metric (x100) | before | after | change |", "| --- | ---: | ---: | ---: |"]
    for metric, value in results["before"].items():
        after = results["after"][metric]
        lines.append(f"| {metric} | {value:.2f} | {after:.2f} | {after - value:+.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/")
    parser.add_argument("--model", default=None, help="model to adapt [default: all-MiniLM-L6-v2]")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="adapt on the first N documents only")
    parser.add_argument("--threads", type=int, default=None, help="torch threads [default: torch's own, one a core]")
    parser.add_argument("--json-out", type=Path, default=RESULTS)
    parser.add_argument("--markdown", action="store_true", help="print the table of --json-out and stop")
    args = parser.parse_args()
    if not args.markdown:
        sys.path.insert(0, str(REPO))
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        results = measure(args.data, args.model, args.epochs, args.limit)
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(json.loads(args.json_out.read_text())))


if __name__ == "__main__":
    main()
