"""BERT's vectors as features for another model, measured on MRPC (paraphrase pairs) with scikit-learn.

    python benchmarks/features.py              # full MRPC; 20 min on 2 busy cores; writes results/features.json
    python benchmarks/features.py --markdown   # the last run's tables (docs/how-to/embeddings-as-features.md)
    python benchmarks/features.py --smoke --model DIR --json-out FILE   # 200 pairs, seconds (the test)

Every classifier is a LogisticRegression on standardised features, its L2 penalty chosen by 3-fold
cross-validation on the train split. Sentence level: pair features (u, v, abs(u-v), u*v) (as InferSent and
Sentence-BERT's classification objective build them), trained on MRPC's official train split
(4,076 pairs) and scored on its test split (1,725), from three kinds of sentence vector:
  - the index's sentence vectors (the default model's pooled, normalised output);
  - the model's static token embeddings, mean-pooled (its token table, before any layer: no context);
  - TF-IDF over words and word pairs (fitted on the train split).
Beside them: the majority class, and the cosine of the sentence vectors with a threshold chosen on train.

Word-piece level ("train a network with BERT embeddings instead of GloVe"): the model is uncased,
so a word's capital letter is invisible to it; can a classifier on one piece's vector tell which words
were capitalised (names: "Apple", "Bank of America") from the sentence around it? Labels come from the
raw MRPC text, per word (its first piece), the sentence's first word left out (capitalised by rule).
Features are exported the way `simsearch embed --tokens --layers N` writes them (tools.embedding),
from layer 0 (the static input: token + segment + position, normalised) and from the last layer,
against the bare token-table row and a per-piece lookup of the training majority.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")  # notices of changing defaults

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "mrpc"  # ../shared/data/mrpc from the repository root
RESULTS = REPO / "benchmarks" / "results" / "features.json"
TOKEN_SENTENCES = {"train": 1000, "test": 500}  # sentences for the word-piece task (its cost is the forward pass)


PENALTIES = [0.001, 0.01, 0.1, 1.0]  # inverse L2 strengths tried; standardised 384-1536 features overfit above 1
STARTED = time.perf_counter()


def note(message: str) -> None:
    """Progress on stderr: a full run takes minutes, longer on a busy machine."""
    print(f"[{time.perf_counter() - STARTED:6.0f} s] {message}", file=sys.stderr, flush=True)


def read_mrpc(folder: Path, split: str, limit: int | None) -> tuple[list[str], list[str], np.ndarray]:
    """First sentences, second sentences, labels (1: paraphrase) of MRPC's official ``split`` (see PROVENANCE.md)."""
    with open(folder / f"{split}.tsv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:][:limit]
    return [r[3] for r in rows], [r[4] for r in rows], np.array([int(r[0]) for r in rows])


def pair_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.hstack([u, v, np.abs(u - v), u * v])


def static_mean(encoder, texts: list[str]) -> np.ndarray:
    """Each text's token-table rows (special tokens and padding left out) averaged, then normalised."""
    import torch

    model = encoder.model
    table = model[0].auto_model.get_input_embeddings()
    out = []
    for start in range(0, len(texts), 256):
        encoded = model.tokenizer(
            texts[start : start + 256],
            truncation=True,
            max_length=model.max_seq_length,
            padding=True,
            return_tensors="pt",
            return_special_tokens_mask=True,
        )
        keep = (encoded["attention_mask"] * (1 - encoded["special_tokens_mask"])).unsqueeze(-1).float()
        with torch.inference_mode():
            rows = table(encoded["input_ids"]) * keep
        out.append((rows.sum(1) / keep.sum(1).clamp(min=1)).numpy())
    vectors = np.concatenate(out)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(100 * accuracy_score(truth, predicted), 2),
        "f1": round(100 * f1_score(truth, predicted), 2),
    }


def fit_and_score(train_x, train_y, test_x, test_y) -> dict[str, float]:
    """Standardised features, the L2 penalty chosen by 3-fold cross-validation on train (as SentEval tunes it
    on a validation split), then one fit on all of train and the scores on test."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classifier = make_pipeline(
        StandardScaler(with_mean=not sp.issparse(train_x)), LogisticRegressionCV(Cs=PENALTIES, cv=3, max_iter=2000)
    )
    classifier.fit(train_x, train_y)
    return {**scores(test_y, classifier.predict(test_x)), "C": float(classifier[-1].C_[0])}


def sentence_level(encoder, folder: Path, limit: int | None) -> list[dict]:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    train, test = read_mrpc(folder, "train", limit), read_mrpc(folder, "test", limit)
    rows = [{"features": "majority class (always paraphrase)", **scores(test[2], np.ones_like(test[2]))}]
    note("encoding the MRPC sentences")
    started = time.perf_counter()
    encoded = {
        split: (encoder.encode(data[0]), encoder.encode(data[1])) for split, data in (("train", train), ("test", test))
    }
    encode_s = time.perf_counter() - started
    cosine = {split: (a * b).sum(1) for split, (a, b) in encoded.items()}
    best = max(np.unique(cosine["train"]), key=lambda t: (train[2] == (cosine["train"] >= t)).mean())
    rows.append(
        {
            "features": "sentence-vector cosine, threshold tuned on train",
            **scores(test[2], (cosine["test"] >= best).astype(int)),
        }
    )
    rows.append(
        {
            "features": "sentence vectors `(u, v, abs(u-v), u*v)`",
            "encode_s": round(encode_s, 1),
            **fit_and_score(pair_features(*encoded["train"]), train[2], pair_features(*encoded["test"]), test[2]),
        }
    )
    note("classifier on sentence vectors done; static token embeddings next")
    static = {
        split: (static_mean(encoder, data[0]), static_mean(encoder, data[1]))
        for split, data in (("train", train), ("test", test))
    }
    rows.append(
        {
            "features": "static token embeddings, mean-pooled `(u, v, abs(u-v), u*v)`",
            **fit_and_score(pair_features(*static["train"]), train[2], pair_features(*static["test"]), test[2]),
        }
    )
    note("TF-IDF next")
    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(train[0] + train[1])

    def sparse_pairs(data):
        u, v = tfidf.transform(data[0]), tfidf.transform(data[1])
        return sp.hstack([u, v, abs(u - v), u.multiply(v)]).tocsr()

    rows.append(
        {
            "features": "TF-IDF words+bigrams `(u, v, abs(u-v), u*v)`",
            **fit_and_score(sparse_pairs(train), train[2], sparse_pairs(test), test[2]),
        }
    )
    return rows


def capital_labels(tokenizer, texts: list[str], max_length: int) -> list[dict[int, int]]:
    """Per text, {position of a word's first piece: 1 if the raw word starts with a capital}; letters only,
    the first word left out."""
    labels = []
    for text in texts:
        encoded = tokenizer(text, truncation=True, max_length=max_length, return_offsets_mapping=True)
        words, seen, marked = encoded.word_ids(), set(), {}
        for position, (word, (start, _)) in enumerate(zip(words, encoded["offset_mapping"])):
            if word is None or word in seen:
                continue
            seen.add(word)
            if word > 0 and text[start].isalpha():
                marked[position] = int(text[start].isupper())
        labels.append(marked)
    return labels


def piece_table(encoder, texts: list[str], layers: str, folder: Path):
    """What `simsearch embed --tokens --layers LAYERS` writes for ``texts``, read back as a pandas frame."""
    import pandas as pd

    from simsearch.tools.embedding import embed_tokens

    path = folder / f"pieces-{layers}.parquet"
    embed_tokens(texts, path, encoder, layers=layers, overwrite=True)
    return pd.read_parquet(path)


def labelled(frame, labels: list[dict[int, int]]):
    """The rows of labelled pieces and their labels, in file order."""
    keys = list(zip(frame["sentence"].tolist(), frame["position"].tolist()))
    keep = [i for i, (s, p) in enumerate(keys) if p in labels[s]]
    return keep, np.array([labels[keys[i][0]][keys[i][1]] for i in keep])


def token_level(encoder, folder: Path, limits: dict[str, int]) -> list[dict]:
    model = encoder.model
    table = model[0].auto_model.get_input_embeddings().weight.detach().numpy()
    splits = {}
    for split, limit in limits.items():
        first, second, _ = read_mrpc(folder, split, None)
        texts = list(dict.fromkeys(first + second))[:limit]
        splits[split] = (texts, capital_labels(model.tokenizer, texts, model.max_seq_length))
    rows = []
    note("word pieces: exporting layers 0 and last as `embed --tokens` does")
    with tempfile.TemporaryDirectory() as folder:
        frames = {
            (split, layers): piece_table(encoder, splits[split][0], layers, Path(folder))
            for split in splits
            for layers in ("0", "last")
        }
    picked = {split: labelled(frames[(split, "0")], splits[split][1]) for split in splits}
    truth = {split: y for split, (_, y) in picked.items()}
    train_tokens = frames[("train", "0")]["token"].to_numpy()[picked["train"][0]]
    test_tokens = frames[("test", "0")]["token"].to_numpy()[picked["test"][0]]
    rows.append({"features": "majority class (lowercase)", **scores(truth["test"], np.zeros_like(truth["test"]))})
    rows.append(
        {
            "features": "per-piece lookup (majority case of the piece in train)",
            **scores(truth["test"], lookup_predictions(train_tokens, truth["train"], test_tokens)),
        }
    )
    ids = {
        split: model.tokenizer.convert_tokens_to_ids(list(tokens))
        for split, tokens in (("train", train_tokens), ("test", test_tokens))
    }
    rows.append(
        {
            "features": "static token embedding (token table row)",
            **fit_and_score(table[ids["train"]], truth["train"], table[ids["test"]], truth["test"]),
        }
    )
    note("per-piece classifiers")
    for layers, name in (
        ("0", "embedding layer output (--layers 0: static input)"),
        ("last", "last layer (--layers last: contextual)"),
    ):
        x = {split: np.stack(frames[(split, layers)]["vector"].to_numpy()[picked[split][0]]) for split in splits}
        rows.append({"features": name, **fit_and_score(x["train"], truth["train"], x["test"], truth["test"])})
    counts = {f"{split}_pieces": int(len(y)) for split, y in truth.items()}
    counts.update({f"{split}_sentences": len(splits[split][0]) for split in splits})
    return [{**row, **counts} for row in rows]


def lookup_predictions(train_tokens: np.ndarray, train_y: np.ndarray, test_tokens: np.ndarray) -> np.ndarray:
    votes: dict[str, list[int]] = {}
    for token, label in zip(train_tokens, train_y):
        votes.setdefault(token, [0, 0])[label] += 1
    return np.array([int(votes.get(token, [1, 0])[1] > votes.get(token, [1, 0])[0]) for token in test_tokens])


def markdown(results: dict) -> str:
    lines = [
        f"MRPC test split, {results['model']}; LogisticRegression (standardised features, L2 penalty chosen "
        "by 3-fold cross-validation on train) on the features named.",
        "",
        "| sentence-pair features | accuracy | F1 |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {r['features']} | {r['accuracy']:.1f} | {r['f1']:.1f} |" for r in results["sentence_level"]]
    token = results["token_level"]
    lines += [
        "",
        f"Word pieces: was the word capitalised? ({token[0]['train_pieces']} training pieces from "
        f"{token[0]['train_sentences']} sentences, {token[0]['test_pieces']} test pieces from "
        f"{token[0]['test_sentences']}; F1 of 'capitalised')",
        "",
        "| per-piece features | accuracy | F1 |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {r['features']} | {r['accuracy']:.1f} | {r['f1']:.1f} |" for r in token]
    lines += ["", f"{results['seconds']:.0f} s on {results['cpus']} CPUs (`python benchmarks/features.py`)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder or hub id [default: all-MiniLM-L6-v2]")
    parser.add_argument("--smoke", action="store_true", help="200 pairs, 100/50 sentences for the piece task")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of MRPC's train.tsv and test.tsv")
    parser.add_argument("--json-out", type=Path, default=RESULTS)
    parser.add_argument("--markdown", action="store_true", help="print the tables of --json-out and stop")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.json_out.read_text())))
        return
    sys.path.insert(0, str(REPO))
    from simsearch import load_encoder

    started = time.perf_counter()
    encoder = load_encoder(args.model, None, "torch")
    token_sentences = {"train": 100, "test": 50} if args.smoke else TOKEN_SENTENCES
    results = {
        "model": encoder.name,
        "sentence_level": sentence_level(encoder, args.data, 200 if args.smoke else None),
        "token_level": token_level(encoder, args.data, token_sentences),
    }
    results.update(seconds=round(time.perf_counter() - started, 1), cpus=os.cpu_count(), smoke=args.smoke)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
