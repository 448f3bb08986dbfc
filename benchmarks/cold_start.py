"""Cold starts: one `simsearch search` as a fresh process, against `python -c "import sentence_transformers"`.

A CLI search, a script or a serverless handler pays everything a new process loads. The
target (issue 11): on an index built with the default settings, a cold search costs less
than half of importing sentence-transformers, measured here in the same run, interleaved
so that a busy machine slows both alike. The index is built once with the default
`simsearch build` (torch backend), which also prepares the ONNX export its queries use.

    python benchmarks/cold_start.py [--repeats 5] [--torch-repeats 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "simsearch" / "data" / "demo.csv"
QUERY = "a bird singing at dawn"


def seconds(command: list[str]) -> float:
    """Wall time of one fresh process running ``command`` from the repository root (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(
        command,
        cwd=REPO,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each cold command (medians reported)")
    parser.add_argument(
        "--torch-repeats",
        type=int,
        default=2,
        help="runs of the same search forced onto torch (--backend torch), for comparison",
    )
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="simsearch-cold-") as home:
        cli = [python, "-m", "simsearch"]
        build_seconds = seconds([*cli, "build", "demo", "--input", str(DEMO), "--index-dir", home, "-q"])
        search = [*cli, "search", "demo", QUERY, "-k", "3", "--index-dir", home]
        seconds(search)  # once untimed: the OS file cache then holds the files every later run reads
        runs: dict[str, list[float]] = {"import sentence_transformers": [], "simsearch search (default)": []}
        for _ in range(args.repeats):  # interleaved: a burst of load elsewhere slows both columns
            runs["import sentence_transformers"].append(seconds([python, "-c", "import sentence_transformers"]))
            runs["simsearch search (default)"].append(seconds(search))
        if args.torch_repeats:
            runs["simsearch search --backend torch"] = [
                seconds([*search, "--backend", "torch"]) for _ in range(args.torch_repeats)
            ]
    medians = {name: statistics.median(times) for name, times in runs.items()}
    print(
        f"cold starts on {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"demo index built with the default settings in {build_seconds:.1f} s (model load and export included)"
    )
    print(f"{'command (fresh process)':36} {'median s':>9}  runs")
    for name, times in runs.items():
        print(f"{name:36} {medians[name]:9.2f}  {', '.join(f'{t:.2f}' for t in times)}")
    ratio = medians["simsearch search (default)"] / medians["import sentence_transformers"]
    verdict = "meets" if ratio < 0.5 else "misses"
    print(f"cold search / import sentence_transformers = {ratio:.2f} ({verdict} the target of < 0.5)")


if __name__ == "__main__":
    main()
