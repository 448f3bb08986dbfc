"""Quality before and after fine-tuning: STS-B dev correlation and paraphrase retrieval.

Runs, in one process: the default model on STS-B dev; fine-tuning it on STS-B train
(selecting the epoch on dev, with simsearch's defaults for graded scores unless told
otherwise); the fine-tuned model on dev; paraphrase retrieval built from dev, before
and after. Prints one markdown table and writes the figures as JSON.

    python benchmarks/quality.py [--output artifacts/stsb-tuned] [--epochs N --lr X --batch-size B]
                                 [--augment none|auto|CROSS_ENCODER_DIR]
    python benchmarks/quality.py --smoke    # a tiny random BERT on synthetic pairs, in seconds

Run the full benchmark under `flock /tmp/simsearch-heavy.lock` (it trains for many minutes on CPU).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's simsearch, not an installed one
STSB = REPO.parent / "shared" / "data" / "stsb"
PARAPHRASE_ROWS = ("ndcg@10", "mrr@10", "recall@1", "recall@10")


def measure(model: str | Path, dev: Path) -> dict[str, dict[str, float]]:
    from simsearch import load_encoder
    from simsearch.training.pair_metrics import sts_metrics
    from simsearch.training.pairs import read_pairs
    from simsearch.training.retrieval_metrics import retrieval_metrics
    from simsearch.training.retrieval_sets import paraphrase_retrieval_set

    encoder = load_encoder(model)
    return {
        "sts": sts_metrics(encoder, read_pairs(dev)),
        "paraphrase": retrieval_metrics(encoder, paraphrase_retrieval_set([dev])),
    }


def smoke_inputs(folder: Path) -> tuple[Path, Path, Path]:
    """A tiny BERT with BERT's own initialisation, and synthetic topic pairs it can learn."""
    from simsearch.testing import write_scored, write_tiny_bert

    return (
        write_tiny_bert(folder / "tiny-bert"),
        write_scored(folder / "train.csv", 48, seed=1),
        write_scored(folder / "dev.csv", 40, seed=2),
    )


def table(report: dict) -> str:
    before, after = report["before"], report["after"]
    rows = [("STS-B dev Spearman", "sts", "spearman"), ("STS-B dev Pearson", "sts", "pearson")]
    rows += [(f"paraphrase {name}", "paraphrase", name) for name in PARAPHRASE_ROWS]
    lines = [f"| measure ({report['mode']}) | {report['base']} | fine-tuned | change |", "|---|---:|---:|---:|"]
    for label, group, name in rows:
        old, new = before[group][name], after[group][name]
        lines.append(f"| {label} | {old:.2f} | {new:.2f} | {new - old:+.2f} |")
    training = report["training"]
    hyper = training["hyperparameters"]
    lines.append(f"| training wall time | | {training['wall_seconds'] / 60:.1f} min | |")
    lines.append(
        f"| training setup | | {training['loss']}, lr {hyper['learning_rate']:g}, batch "
        f"{hyper['batch_size']}, {hyper['epochs']} epochs, kept epoch {training['best_epoch']} | |"
    )
    augment = training["settings"].get("augment")
    if augment:
        made = augment["cross_encoder"]
        if "cross_encoder_metrics" in augment:
            made += f", its dev Spearman {augment['cross_encoder_metrics'].get('spearman', float('nan')):.2f}"
            made += f" alone, {augment['blend']['blended']['spearman']:.2f} blended" if augment.get("blend") else ""
        lines.append(f"| augmenting | | {augment['silver']} silver pairs scored by a cross-encoder ({made}) | |")
    lines.append(f"\n{report['date']}, {report['machine']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model and synthetic data, for CI")
    parser.add_argument("--output", type=Path, default=REPO / "artifacts" / "stsb-tuned", help="trained model folder")
    parser.add_argument("--json-out", type=Path, default=None, help="where to write the figures as JSON")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--augment", default="none", help="none, auto or a cross-encoder folder (train's --augment)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target is 2 cores)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    import torch

    from simsearch.training.bi_encoder import train_model

    torch.set_num_threads(args.threads)
    scratch = tempfile.TemporaryDirectory()
    if args.smoke:
        base, train_file, dev = smoke_inputs(Path(scratch.name))
        output = Path(scratch.name) / "tuned"
        hyper = {"epochs": 8, "learning_rate": 2e-3, "batch_size": 8}
        json_out = args.json_out or Path(scratch.name) / "quality.json"
    else:
        if not (STSB / "train.csv").exists():
            sys.exit(f"STS-B is not at {STSB}; the full benchmark needs ../shared/data/stsb.")
        base, train_file, dev, output = "default", STSB / "train.csv", STSB / "dev.csv", args.output
        hyper = {"epochs": args.epochs, "learning_rate": args.lr, "batch_size": args.batch_size}
        json_out = args.json_out or REPO / "benchmarks" / "results" / "quality.json"
    before = measure(base, dev)
    augment = args.augment
    result = train_model(
        train_file,
        output,
        base=base,
        pooling="mean" if args.smoke else None,
        eval_pairs=dev,
        augment=augment,
        seed=args.seed,
        overwrite=True,
        progress=sys.stderr.isatty(),
        say=lambda line: print(line, file=sys.stderr),
        **hyper,
    )
    after = measure(output, dev)
    report = {
        "mode": "smoke" if args.smoke else "full",
        "base": "tiny random BERT" if args.smoke else "all-MiniLM-L6-v2",
        "before": before,
        "after": after,
        "training": result.to_dict(),
        "model": str(output),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
    }
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(report, indent=2))
    print(table(report))


if __name__ == "__main__":
    main()
