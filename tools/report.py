"""Pictures of one commit's results, written next to the dashboard: GFLOP/s against workers, and speed-ups.

Usage: python tools/report.py [--commit HEAD] [--results .asv/results] [HTML_DIR (.asv/html)]

Writes HTML_DIR/report/: per dtype, GFLOP/s against workers for every shape
(2·m·k·n over `Dot`'s times; the peers as their speed-up times numpy.dot's
GFLOP/s on as many threads) with the machine's peak as a line, and the speed-up
over numpy.dot of every contender on all CPUs (`SpeedupOverNumpy`,
`PeersSpeedup`); and an index.html showing them. The peak is numpy.dot on one
thread at 2000³ times the CPUs asv saw.
"""

import argparse
import html
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers_table  # noqa: E402  (a sibling module; tools/ is not a package)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.bench_peers import PEER_SHAPES  # noqa: E402
from benchmarks.common import CONTENDERS, SHAPES, flops  # noqa: E402
from benchmarks.peers import PEERS  # noqa: E402

DTYPES = ["float64", "float32"]
COLOURS = plt.cm.tab20.colors  # one for each of up to 20 contenders


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--results", default=ROOT / ".asv" / "results")
    parser.add_argument("html_dir", nargs="?", default=ROOT / ".asv" / "html")
    args = parser.parse_args(argv)
    commit = peers_table.rev_parse(args.commit)
    folder = Path(args.html_dir) / "report"
    results = peers_table.load_results(commit, args.results)
    if results is None:
        print(f"No pictures: {commit[:8]} has no asv results.")
        return
    seconds = peers_table.values(results, "bench_dot.Dot.time_dot", lambda *key: key)
    gflops = {key: flops(key[0]) / elapsed / 1e9 for key, elapsed in seconds.items()}
    speedups = peers_table.speedups(results)
    cpus = int(results.params.get("num_cpu") or 1)
    folder.mkdir(parents=True, exist_ok=True)
    pictures = []
    for dtype in DTYPES:
        peak = gflops.get(("square_2000", "1", dtype, "numpy.dot"))
        pictures.append(draw_gflops(folder / f"gflops-{dtype}.png", gflops, speedups, dtype, peak and peak * cpus))
        pictures.append(draw_speedups(folder / f"speedup-{dtype}.png", speedups, dtype))
    (folder / "index.html").write_text(page(commit, pictures))
    print(f"Pictures: {folder / 'index.html'}")


def draw_gflops(path, gflops, speedups, dtype, peak):
    """One panel per shape: GFLOP/s against workers for every contender measured, and the peak."""
    shapes = [shape for shape in SHAPES if any(key[0] == shape and key[2] == dtype for key in gflops)] or ["no GFLOP/s measured"]
    figure, axes = plt.subplots(1, len(shapes), figsize=(max(9, 3.2 * len(shapes)), 3.6), sharey=True, squeeze=False)
    for axis, shape in zip(axes[0], shapes):
        axis.set_prop_cycle(color=COLOURS)
        for name in CONTENDERS:
            points = sorted((int(w), v) for (s, w, d, i), v in gflops.items() if (s, d, i) == (shape, dtype, name))
            if points:
                axis.plot(*zip(*points), marker="o", label=name)
        for name in PEERS:
            points = sorted(
                (int(w), speedup * gflops[shape, w, dtype, "numpy.dot"])
                for (s, w, d, i), speedup in speedups.items()
                if (s, d, i) == (shape, dtype, name) and (shape, w, dtype, "numpy.dot") in gflops
            )
            if points:
                axis.plot(*zip(*points), marker="s", fillstyle="none", linestyle=":", label=name)
        if peak:
            axis.axhline(peak, color="black", linestyle="--", linewidth=1, label="peak")
        axis.set_title(peers_table.SHAPE_LABELS.get(shape, shape), fontsize=9)
        axis.set_xlabel("workers")
        axis.set_xticks(sorted({int(key[1]) for key in gflops}))
        axis.set_yscale("log")
    axes[0][0].set_ylabel(f"GFLOP/s, {dtype}")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    figure.legend(unique.values(), unique.keys(), loc="lower center", ncol=6, fontsize=7)
    figure.tight_layout(rect=(0, 0.16, 1, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)
    caption = (f"GFLOP/s against workers, {dtype} (hollow squares: the peers, their speed-up times "
               f"numpy.dot's GFLOP/s on as many threads; dashed: the peak)")
    return path.name, caption


def draw_speedups(path, speedups, dtype):
    """Speed-up over numpy.dot on all CPUs, one group of bars per shape, one bar per contender."""
    workers = str(peers_table.most_workers(speedups))
    speedups = {(s, d, i): v for (s, w, d, i), v in speedups.items() if w == workers}
    names = [name for name in [*CONTENDERS, *PEERS] if any(key[1:] == (dtype, name) for key in speedups)]
    figure, axis = plt.subplots(figsize=(12, 5))
    axis.set_prop_cycle(color=COLOURS)
    width = 0.8 / max(1, len(names))
    for offset, name in enumerate(names):
        heights = [speedups.get((shape, dtype, name), 0) for shape in PEER_SHAPES]
        axis.bar([i + offset * width for i in range(len(PEER_SHAPES))], heights, width, label=name)
    axis.axhline(1, color="black", linewidth=1)
    axis.set_xticks([i + 0.4 - width / 2 for i in range(len(PEER_SHAPES))])
    axis.set_xticklabels([peers_table.SHAPE_LABELS[shape] for shape in PEER_SHAPES])
    axis.set_yscale("log")
    axis.set_ylabel(f"numpy.dot time / contender time, {dtype}")
    axis.legend(ncol=7, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    caption = f"Speed-up over numpy.dot on {workers} workers, {dtype} (> 1: faster; a missing bar: not measured)"
    return path.name, caption


def page(commit, pictures):
    figures = "\n".join(
        f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        for name, caption in pictures
    )
    return (
        f"<!DOCTYPE html>\n<meta charset=utf-8><title>mpdot / cydot: pictures of {commit[:8]}</title>\n"
        f"<p><a href=../index.html>back to the dashboard</a></p>\n<h1>Commit {commit[:8]}</h1>\n{figures}\n"
    )


if __name__ == "__main__":
    main()
