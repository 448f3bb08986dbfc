"""Does adapting the encoder to a corpus's own texts, without labels (TSDAE), help dense retrieval? No.

    python benchmarks/adapt.py --limit 150 --threads 1   # the recorded run: 40 min on 2 busy cores
    python benchmarks/adapt.py --markdown                # the last run's table
    python benchmarks/adapt.py --model DIR --data BEIR_DIR --json-out FILE   # any model, any BEIR folder

TSDAE (Wang, Reimers and Gurevych, 2021; sentence-transformers' DenoisingAutoEncoderLoss): 60% of
each sentence's words are deleted and a decoder, tied to the encoder's weights, must rebuild the
sentence from the pooled vector alone. Chosen over masked-language modelling plus a contrastive
pass because it trains the pooled sentence vector itself in one stage, and because its paper found
it the strongest unsupervised objective for domain adaptation. Hyperparameters are the paper's
(batch 8, constant learning rate 3e-5); documents are split into sentences first.

CISI (../shared/data/cisi, BEIR layout): the corpus's 1,460 abstracts (titles and texts) are the
only training data; its judged queries and qrels are used for scoring alone. Dense nDCG@10 and the
other retrieval figures (x100, exact search) of the default model before, against the adapted model
after, plus the adaptation's wall time on this machine. Results go to benchmarks/results/adapt.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "cisi"  # ../shared/data/cisi from the repository root
RESULTS = REPO / "benchmarks" / "results" / "adapt.json"
DELETION = 0.6  # share of words deleted from each input: the TSDAE paper's best setting
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(texts: list[str], min_words: int = 4) -> list[str]:
    """Each text cut at sentence ends, pieces under ``min_words`` words dropped, duplicates once, in order."""
    pieces = (piece.strip() for text in texts for piece in _SENTENCE_END.split(text))
    return list(dict.fromkeys(piece for piece in pieces if len(piece.split()) >= min_words))


def damaged(sentence: str, rng: random.Random) -> str:
    """``sentence`` with about DELETION of its words removed at random; at least one word is kept."""
    words = sentence.split()
    kept = [word for word in words if rng.random() >= DELETION]
    return " ".join(kept) if kept else rng.choice(words)


def adapt(sentences: list[str], base: str | None, output: Path, epochs: int, seed: int = 42) -> int:
    """TSDAE on ``sentences`` from ``base``; the adapted model saved to ``output``. Returns the steps taken."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss
    from transformers import set_seed

    from simsearch.encoders.models import load_sentence_transformer

    set_seed(seed)
    model = load_sentence_transformer(base)
    rng = random.Random(seed)
    pairs = Dataset.from_dict({"damaged": [damaged(s, rng) for s in sentences], "original": sentences})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output.parent / "checkpoints"),
        num_train_epochs=epochs,
        per_device_train_batch_size=8,
        learning_rate=3e-5,
        lr_scheduler_type="constant",
        seed=seed,
        save_strategy="no",
        logging_steps=10,
        report_to="none",
        dataloader_pin_memory=False,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=pairs, loss=DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    )
    trainer.train()
    model.save(str(output), create_model_card=False)
    return trainer.state.global_step


def measure(data_folder: Path, model: str | None, epochs: int, limit: int | None) -> dict:
    import torch

    from simsearch import load_encoder
    from simsearch.training.retrieval_metrics import retrieval_metrics
    from simsearch.training.retrieval_sets import read_beir

    data = read_beir(data_folder / "corpus.jsonl", data_folder / "queries.jsonl", data_folder / "qrels" / "test.tsv")
    texts = list(data.corpus.values())[:limit]
    started = time.perf_counter()
    before = retrieval_metrics(load_encoder(model, None, "torch"), data)
    print(f"before: nDCG@10 {before['ndcg@10']:.2f} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    sentences = split_sentences(texts)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        steps = adapt(sentences, model, Path(folder) / "adapted", epochs)
        seconds = time.perf_counter() - started
        after = retrieval_metrics(load_encoder(str(Path(folder) / "adapted"), None, "torch"), data)
    return {
        "model": model or "all-MiniLM-L6-v2",
        "documents": len(texts),
        "sentences": len(sentences),
        "epochs": epochs,
        "steps": steps,
        "adapt_s": round(seconds, 1),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "before": before,
        "after": after,
    }


def markdown(results: dict) -> str:
    lines = [
        f"CISI, dense exact search, {results['model']} before and after TSDAE on the corpus's "
        f"{results['sentences']} sentences ({results['documents']} documents), {results['epochs']} epoch "
        f"({results['steps']} steps of 8) in {results['adapt_s'] / 60:.1f} min on {results['cpus']} CPUs "
        f"({results['torch_threads']} torch thread(s)).",
        "",
        "| metric (x100) | before | after | change |",
        "| --- | ---: | ---: | ---: |",
    ]
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
