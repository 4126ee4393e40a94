"""The bench's results as one image: a panel per metric, a bar per init, ratio labels.

matplotlib comes with the ``bench`` extra (``pip install -e '.[bench]'``), never
with pyinit itself. Each panel compares against the reference that metric's goal
names: the bare interpreter for start-up and memory, tini for signals, reaping
and the storm, supervisord for services.
"""

from __future__ import annotations

from typing import Any

# (words the metric's name holds, reference, goal as a ratio to it or None): one panel each,
# titled with the metric's name; the goal (issue 14's) is drawn as a dashed line
PANELS = [
    (("start-up overhead",), "python -I -S", 1.3),
    (("signal forwarding median",), "tini", 1.3),
    (("signal forwarding p99",), "tini", 1.5),
    (("reap", "at once", "init CPU"), "tini", 1.2),
    (("reap", "streamed", "init CPU"), "tini", 1.2),
    (("VmRSS",), "python -I -S", 1.1),
    (("PSS",), "python -I -S", None),
    (("storm",), "tini", 2.0),
    (("teardown", "init exits"), "tini", None),
    (("services: start",), "supervisord", 1.0),
    (("services: SIGTERM",), "supervisord", 1.0),
    (("services, idle", "CPU"), "supervisord", None),
]

ORDER = [
    "pyinit",
    "pyinit.pyz",
    "python -m pyinit",
    "pyinit (pip script)",
    "pyinit (pip<24 script)",
    "tini",
    "dumb-init",
    "catatonit",
    "supervisord",
    "C init",
    "kernel",
    "python floor (sigwait)",
    "python floor (epoll)",
    "python -I -S",
    "python -c",
]
FLOORS = {"C init", "kernel", "python -I -S", "python -c", "python floor (sigwait)", "python floor (epoll)"}


def _metric(results: dict[str, Any], words: tuple[str, ...]) -> str | None:
    return next((m for m in results if all(w in m for w in words)), None)


def _color(name: str) -> str:
    if name.startswith(("pyinit", "python -m pyinit")):  # pyinit, however it is started
        return "#d62728"
    if name in FLOORS:
        return "#9e9e9e"
    return "#1f77b4"


def draw(results: dict[str, Any], path: str, caption: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for words, ref, goal in PANELS:
        metric = _metric(results, words)
        row = results.get(metric, {}).get("ns", {}) if metric else {}
        bars = [(n, float(row[n])) for n in ORDER if isinstance(row.get(n), (int, float))]
        if metric and bars:
            panels.append((metric, ref, goal, bars))
    cols = 3
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 5.2, rows * 3.5), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (metric, ref, goal, bars) in zip(axes.flat, panels, strict=False):
        names = [n for n, _ in bars][::-1]
        values = [v for _, v in bars][::-1]
        ax.barh(names, values, color=[_color(n) for n in names])
        refvalue = dict(bars).get(ref)
        top = max(values) or 1.0
        for y, (name, value) in enumerate(zip(names, values, strict=True)):
            label = f"{value:.0f}" if value >= 100 else f"{value:.3g}" if value >= 1 else f"{value:.2f}"
            if refvalue and name != ref:
                label += f"  {value / refvalue:.2f}x"
            ax.text(value + top * 0.02, y, label, va="center", fontsize=7)
        if goal is not None and refvalue:
            ax.axvline(refvalue * goal, color="#555", linestyle="--", linewidth=0.8)
            ax.text(refvalue * goal, -0.45, f" goal {goal:g}x", fontsize=6, color="#555", va="bottom")
        ax.set_xlim(0, max(top, (refvalue or 0) * (goal or 0)) * 1.45)
        ax.set_title(f"{metric}\n(ratios to {ref})", fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(
        f"pyinit against tini, dumb-init, catatonit, supervisord and the floors (PID 1 of a PID namespace)\n{caption}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
