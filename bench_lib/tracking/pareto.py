"""Pareto plots of the report: task score against a cost, one numbered point per configuration
with its 95% interval as an error bar, the Pareto front, and a table beside the plot saying what
each number is (numbers instead of long labels, which would print over each other)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def pareto_front(points: list[tuple[float, float]], higher_score_better: bool) -> list[int]:
    """Indices of the points no other point beats on both cost (x, lower is better) and score."""
    def beats(p, q):
        better_score = p[1] >= q[1] if higher_score_better else p[1] <= q[1]
        return p[0] <= q[0] and better_score and p != q
    return [i for i, q in enumerate(points) if not any(beats(p, q) for p in points)]


def label_groups(disp: list[tuple[float, float]], near: float = 14.0) -> list[tuple[int, list[int]]]:
    """Points (in pixels) closer than `near` to a group's first point join that group: one label
    per group, "1,2,5", so coinciding points do not print their numbers over each other.
    Returns (index of the anchor point, 1-based numbers) per group."""
    groups: list[tuple[int, list[int]]] = []
    for i, (px, py) in enumerate(disp):
        for anchor, numbers in groups:
            ax_, ay_ = disp[anchor]
            if abs(px - ax_) < near and abs(py - ay_) < near:
                numbers.append(i + 1)
                break
        else:
            groups.append((i, [i + 1]))
    return groups


def pareto_plot(rows: list[dict], x_key: str, x_label: str, path: Path, score_text: Callable[[dict], str]) -> bool:
    """Task score against a cost, one numbered point per configuration with its 95% interval as
    an error bar, the Pareto front, and a table beside the plot saying what each number is."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from bench_lib.metrics import metric

    pts = [r for r in rows if _finite(r["score"]) and _finite(r[x_key])]
    if not pts:
        return False
    scale = 2**-20 if x_key == "peak_memory_bytes" else 1e3
    xy = [(r[x_key] * scale, r["score"]) for r in pts]
    higher = metric(pts[0]["score_metric"]).higher_is_better
    front = sorted(pareto_front(xy, higher), key=lambda i: xy[i][0])
    err = [[y - r["score_ci_low"] if _finite(r.get("score_ci_low")) else 0.0 for (_, y), r in zip(xy, pts)],
           [r["score_ci_high"] - y if _finite(r.get("score_ci_high")) else 0.0 for (_, y), r in zip(xy, pts)]]
    fig, (ax, side) = plt.subplots(1, 2, figsize=(13, max(4.2, 1.6 + 0.22 * len(pts))), dpi=110,
                                   gridspec_kw={"width_ratios": [3, 2.8]})
    ax.errorbar([p[0] for p in xy], [p[1] for p in xy], yerr=err, fmt="o", color="0.45", ecolor="0.7",
                capsize=3, label="configuration (95% interval)")
    ax.plot([xy[i][0] for i in front], [xy[i][1] for i in front], "o-", color="C0", label="Pareto front",
            drawstyle="steps-post", zorder=3)
    ax.margins(x=0.12, y=0.12)
    fig.canvas.draw()  # data-to-pixel transform for the label placement
    disp = [tuple(p) for p in ax.transData.transform(xy)]
    placed: list[tuple[float, float, int]] = []
    for anchor, numbers in label_groups(disp):
        px, py = disp[anchor]
        text = ",".join(map(str, numbers))
        # a label whose neighbour to the left is close goes below its marker instead of above
        below = any(abs(py - qy) < 14 and 0 <= px - qx < 8 + 6 * n for qx, qy, n in placed)
        placed.append((px, py, len(text)))
        # near the right edge the label goes to the left of its marker, inside the axes
        right = px > ax.bbox.x0 + 0.8 * ax.bbox.width
        ax.annotate(text, xy[anchor], fontsize=8, xytext=(-5 if right else 5, -12 if below else 4),
                    textcoords="offset points", ha="right" if right else "left", color="C3", weight="bold")
    ax.set_xlabel(f"{x_label} (lower is better)")
    ax.set_ylabel(f"{pts[0]['score_metric']} ({'higher' if higher else 'lower'} is better)")
    ax.set_title(f"{pts[0]['task']}: task score vs {x_label}")
    ax.legend(fontsize=7)
    side.axis("off")
    cells = [[str(i), r["configuration"], r["machine"], score_text(r)] for i, r in enumerate(pts, 1)]
    table = side.table(cellText=cells, colLabels=["#", "configuration", "machine", "score [95%]"],
                       loc="upper left", cellLoc="left", colLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    table.auto_set_column_width(range(4))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
