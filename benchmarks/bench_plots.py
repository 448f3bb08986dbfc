"""PNG figures for benchmarks/performance.py: each plot shows the plain-stack baseline of the same run."""

from __future__ import annotations

from pathlib import Path


def draw_plots(report: dict, out: Path) -> None:
    """encoding.png, latency.png and recall_qps.png in ``out`` (small: 100 dpi, a few tens of KB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _encoding(plt, report["encoding"], out / "encoding.png")
    _latency(plt, report["search"], out / "latency.png")
    if report["curves"]:
        _recall_qps(plt, report["curves"], report["search"], out / "recall_qps.png")


def _encoding(plt, rows: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3))
    names = [r["system"].replace("simsearch ", "") for r in rows]
    colours = ["grey"] + ["tab:blue"] * (len(rows) - 1)
    bars = ax.barh(names, [r["sentences_per_s"] for r in rows], color=colours)
    for bar, row in zip(bars, rows):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {row['speedup']}x, STS-B {row['stsb_spearman']}",
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("sentences/s (STS-B dev, batch 32)")
    ax.set_xlim(0, max(r["sentences_per_s"] for r in rows) * 1.6)
    ax.invert_yaxis()
    _save(plt, fig, path)


def _latency(plt, rows: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for system in dict.fromkeys(r["system"] for r in rows):
        points = sorted((r["documents"], r["p50_ms"]) for r in rows if r["system"] == system)
        style = {"color": "grey", "linestyle": "--"} if system.startswith("plain") else {}
        ax.plot(*zip(*points), marker="o", label=system.replace("simsearch ", ""), **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("documents")
    ax.set_ylabel("p50 ms, end to end")
    ax.legend(fontsize=7)
    _save(plt, fig, path)


def _recall_qps(plt, curves: list[dict], rows: list[dict], path: Path) -> None:
    sizes = sorted({c["documents"] for c in curves})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 3.5), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        for kind in dict.fromkeys(c["kind"] for c in curves if c["documents"] == size):
            points = [c for c in curves if c["documents"] == size and c["kind"] == kind]
            ax.plot([p["recall_at_10"] for p in points], [p["qps"] for p in points], marker="o", label=kind)
            for p in points[::2]:
                ax.annotate(str(p["value"]), (p["recall_at_10"], p["qps"]), fontsize=6)
        plain = [r for r in rows if r["documents"] == size and r["system"].startswith("plain")]
        if plain:  # the baseline answers one query in p50 ms: shown as its single-query rate
            ax.axhline(1000 / plain[0]["p50_ms"], color="grey", linestyle="--", label="plain stack, 1 query")
        ax.set_yscale("log")
        ax.set_xlabel("recall@10 vs exact")
        ax.set_ylabel("queries/s (batch of 500 vectors)")
        ax.set_title(f"{size:,} documents", fontsize=9)
        ax.legend(fontsize=7)
    _save(plt, fig, path)


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
