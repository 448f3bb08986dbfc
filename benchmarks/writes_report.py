"""Tables of benchmarks/writes.py's results: printed after a run, and the docs page made from result files.

Everything shown is read from the result JSON, so the page in docs/benchmarks/writes.md
is regenerated, never typed:

    python benchmarks/writes.py --markdown benchmarks/results/writes.json > docs/benchmarks/writes.md

``--compare BEFORE AFTER`` (repeatable) adds a section that lines up the runs both files hold (same kind,
encoder and N) figure by figure, with after / before: how a storage change moved each figure on one machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

OPERATIONS = ("add", "upsert", "delete")


def table(header: list[str], rows: Iterable[list[object]]) -> str:
    """A markdown table; the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join("" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def latency(figures: dict | str, key: str = "p50_ms") -> object:
    return figures.get(key) if isinstance(figures, dict) else figures


def writes_table(results: dict) -> str:
    rows = []
    for run in results["storage"] + results["real_model"]:
        for operation in OPERATIONS:
            figures = run[operation]
            rows.append(
                [
                    f"simsearch {run['kind']}",
                    run["documents"],
                    run["encoder"],
                    operation,
                    figures["p50_ms"],
                    figures["p99_ms"],
                    figures["write_mb"],
                    figures["wchar_mb"],
                ]
            )
        if "encode_one" in run:
            figures = run["encode_one"]
            rows.append(
                [
                    f"simsearch {run['kind']}",
                    run["documents"],
                    run["encoder"],
                    "encode only (no write)",
                    figures["p50_ms"],
                    figures["p99_ms"],
                    figures["write_mb"],
                    figures["wchar_mb"],
                ]
            )
    for run in results["competitors"]:
        if "skipped" in run:
            rows.append([run["system"], None, None, run["skipped"], None, None, None, None])
            continue
        for operation in OPERATIONS:
            figures = run[operation]
            rows.append(
                [
                    run["system"],
                    run["documents"],
                    "vectors given",
                    operation,
                    figures["p50_ms"],
                    figures["p99_ms"],
                    figures["write_mb"],
                    figures["wchar_mb"],
                ]
            )
    return table(["system", "N", "encoder", "one-document", "p50 ms", "p99 ms", "MB written", "MB wchar"], rows)


def searches_table(results: dict) -> str:
    rows = []
    for run in results["storage"]:
        quiet, loaded = run["quiet"], run["under_writer"]
        writer = loaded["writer"]
        rows.append(
            [
                f"simsearch {run['kind']}",
                run["documents"],
                latency(run["raw_faiss"]),
                latency(run["raw_faiss"], "p99_ms"),
                quiet["p50_ms"],
                quiet["p99_ms"],
                run["quiet_p99_vs_raw_faiss"],
                loaded["search"]["p50_ms"],
                loaded["search"]["p99_ms"],
                loaded["p99_vs_quiet"],
                f"{writer['adds_done']}/{writer['adds_planned']}",
                writer["add"]["p50_ms"],
            ]
        )
    for run in results["competitors"]:
        if "skipped" not in run:
            rows.append(
                [
                    run["system"],
                    run["documents"],
                    None,
                    None,
                    run["quiet"]["p50_ms"],
                    run["quiet"]["p99_ms"],
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                ]
            )
    return table(
        [
            "system",
            "N",
            "raw FAISS p50",
            "raw FAISS p99",
            "quiet p50",
            "quiet p99",
            "quiet p99 / raw",
            "under writer p50",
            "under writer p99",
            "p99 / quiet",
            "writer adds done",
            "writer add p50",
        ],
        rows,
    )


def readers_table(results: dict) -> str:
    rows = [
        [
            f"simsearch {run['kind']}",
            run["documents"],
            r["first"]["p50_ms"],
            r["first"]["p99_ms"],
            r["steady"]["p50_ms"],
            r["steady"]["p99_ms"],
            r["first_p50_vs_steady"],
            r["read_mb"],
        ]
        for run in results["storage"]
        for r in [run["reader_after_write"]]
    ]
    return table(
        [
            "system",
            "N",
            "first search p50",
            "first search p99",
            "nothing new p50",
            "nothing new p99",
            "p50 ratio",
            "MB read to catch up",
        ],
        rows,
    )


def bulk_table(results: dict) -> str:
    rows = []
    for run in results["storage"]:
        bulk = run["bulk"]
        if isinstance(bulk, str):
            rows.append([f"simsearch {run['kind']}", run["documents"], bulk, None, None, None, None, None])
            continue
        rows.append(
            [
                f"simsearch {run['kind']}",
                run["documents"],
                bulk["documents"],
                bulk["add_s"],
                bulk["build_s"],
                bulk["add_vs_build"],
                bulk["add_write_mb"],
                bulk["build_write_mb"],
            ]
        )
    return table(
        [
            "system",
            "N",
            "documents added",
            "one add s",
            "build of them s",
            "add / build",
            "add MB written",
            "build MB written",
        ],
        rows,
    )


def state_table(results: dict) -> str:
    rows = []
    for run in results["storage"]:
        state, compaction = run["state_after_writes"], run["compaction"]
        done = isinstance(compaction, dict)
        sync = run.get("sync", "n/a (not measured)")
        rows.append(
            [
                f"simsearch {run['kind']}",
                run["documents"],
                state["count"],
                state["base_vectors"],
                state["delta_vectors"],
                state["dead_vectors"],
                f"{sync['seconds']} ({sync['changed']} changed)" if isinstance(sync, dict) else sync,
                compaction["seconds"] if done else compaction,
                compaction["write_mb"] if done else None,
                compaction["quiet_after"]["p99_ms"] if done else None,
            ]
        )
    return table(
        [
            "system",
            "N",
            "documents after writes",
            "base vectors",
            "delta vectors",
            "dead vectors",
            "sync to the base s",
            "compaction s",
            "compaction MB written",
            "quiet p99 after",
        ],
        rows,
    )


def render_tables(results: dict) -> str:
    return "\n\n".join(
        [
            "One-document writes: latency (ms) and bytes written per operation (/proc/self/io write_bytes; wchar):",
            writes_table(results),
            "Single-query searches (k=10, vectors given; ms): raw FAISS reads the index's own vector file; "
            "'under writer': while another process adds a document every 50 ms:",
            searches_table(results),
            "Another process's first search after each write, against its search when nothing changed (ms):",
            readers_table(results),
            "A bulk add of 10% of N in one call, against building an index of the same documents:",
            bulk_table(results),
            "Storage state after the writes; sync back to the base rows; compaction:",
            state_table(results),
        ]
    )


def print_tables(results: dict) -> None:
    print(f"# {results['machine']}, {results['date']}, mode {results['mode']}, {results['ops']} operations a figure")
    print(render_tables(results))


def render_markdown(runs: list[dict], pairs: Sequence[tuple[dict, dict]] = ()) -> str:
    """The docs page: how the figures were made, the (before, after) ``pairs`` side by side, then each result
    file's command and tables."""
    parts = [
        "# What a write costs (benchmarks/writes.py)",
        "",
        "Generated from the result files by `python benchmarks/writes.py --markdown FILE...`: not edited by hand.",
        "The storage-path figures use a random static-embedding encoder at the default model's dimension (384), "
        "so 100k-1M documents build in minutes rather than hours; rows marked all-MiniLM-L6-v2 use the default "
        "model, encoding included. Competitors are given the same vectors and texts. See the script's docstring.",
    ]
    if pairs:
        parts += ["", render_comparison(list(pairs))]
    for results in runs:
        load = results.get("load_average_at_start")  # other work on a shared machine stretches every latency
        parts += [
            "",
            f"## {results['date']}: {results['machine']} ({results['mode']})"
            + (f", load average {load} at the start" if load is not None else ""),
            "",
            f"`{results['command']}`",
            "",
            render_tables(results),
        ]
    return "\n".join(parts) + "\n"


def before_after_figures(run: dict) -> dict[str, object]:
    """The figures of one storage or real-model run that a before/after comparison lines up, by label."""
    figures: dict[str, object] = {}
    for operation in OPERATIONS:
        figures[f"{operation} p50 ms"] = run[operation]["p50_ms"]
        figures[f"{operation} p99 ms"] = run[operation]["p99_ms"]
        figures[f"{operation} MB written"] = run[operation]["write_mb"]
    if "quiet" in run:  # the storage path's runs; the real-model ones measure writes only
        figures["quiet search p99 ms"] = run["quiet"]["p99_ms"]
        figures["quiet p99 / raw FAISS p99"] = run["quiet_p99_vs_raw_faiss"]
        figures["search p99 under a writer ms"] = run["under_writer"]["search"]["p99_ms"]
        figures["under-writer p99 / quiet p99"] = run["under_writer"]["p99_vs_quiet"]
        figures["writer process add p50 ms"] = run["under_writer"]["writer"]["add"]["p50_ms"]
        figures["reader's first search after a write p50 ms"] = run["reader_after_write"]["first"]["p50_ms"]
        figures["MB a reader reads to catch up"] = run["reader_after_write"]["read_mb"]
        figures["bulk add s"] = latency(run["bulk"], "add_s")
    return figures


def runs_by_setting(results: dict) -> dict[tuple[str, str, int], dict]:
    return {
        (f"simsearch {run['kind']}", run["encoder"].split(" (")[0], run["documents"]): run
        for run in results["storage"] + results["real_model"]
    }


def before_after_table(before: dict, after: dict) -> str:
    """Each figure of the runs both files hold (same kind, encoder and N) before and after, and after / before."""
    earlier, later = runs_by_setting(before), runs_by_setting(after)
    rows = []
    for setting in [key for key in later if key in earlier]:
        old, new = before_after_figures(earlier[setting]), before_after_figures(later[setting])
        for label, value in new.items():
            was = old.get(label)
            both = isinstance(was, int | float) and isinstance(value, int | float)
            rows.append([*setting, label, was, value, ratio_of(value, was) if both else None])
    return table(["system", "encoder", "N", "figure", "before", "after", "after / before"], rows)


def ratio_of(after: float, before: float) -> float | None:
    """after / before to three significant figures: a 0.06 MB write against 155 MB is 0.000386, not 0.0."""
    return float(f"{after / before:.3g}") if before else None


def load_at_start(results: dict) -> str:
    load = results.get("load_average_at_start")
    return "load average not recorded" if load is None else f"load average {load} at the start"


def render_comparison(pairs: list[tuple[dict, dict]]) -> str:
    """The page's first section: each (before, after) pair of result files side by side."""
    parts = ["## Before and after", ""]
    for before, after in pairs:
        parts += [
            f"Before: `{before['command']}` ({before['date']}, {load_at_start(before)})",
            "",
            f"After: `{after['command']}` ({after['date']}, {load_at_start(after)})",
            "",
            before_after_table(before, after),
            "",
        ]
    return "\n".join(parts)
