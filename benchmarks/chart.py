"""The bench's results as one image: a panel per metric, a bar per init, ratio labels.

matplotlib comes with the ``bench`` extra (``pip install -e '.[bench]'``), never
with pyinit itself. Each panel compares against the reference that metric's goal
names: the bare interpreter for start-up and memory, tini for signals, reaping
and the storm, supervisord for services.
"""

from __future__ import annotations

from typing import Any

# (words the metric's name holds, reference): one panel each, titled with the metric's name
PANELS = [
    (("start-up overhead",), "python -I -S"),
    (("signal forwarding median",), "tini"),
    (("signal forwarding p99",), "tini"),
    (("reap", "at once", "init CPU"), "tini"),
    (("reap", "streamed", "init CPU"), "tini"),
    (("VmRSS",), "python -I -S"),
    (("PSS",), "python -I -S"),
    (("storm",), "tini"),
    (("teardown", "init exits"), "tini"),
    (("services: start",), "supervisord"),
    (("services: SIGTERM",), "supervisord"),
    (("services, idle", "CPU"), "supervisord"),
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
    "python -I -S",
    "python -c",
]
FLOORS = {"C init", "kernel", "python -I -S", "python -c"}


def _metric(results: dict[str, Any], words: tuple[str, ...]) -> str | None:
    return next((m for m in results if all(w in m for w in words)), None)


def _color(name: str) -> str:
    if name.startswith(("pyinit", "python -m pyinit")):
        return "#d62728"
    if name in FLOORS:
        return "#9e9e9e"
    return "#1f77b4"


def draw(results: dict[str, Any], path: str, caption: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for words, ref in PANELS:
        metric = _metric(results, words)
        row = results.get(metric, {}).get("ns", {}) if metric else {}
        bars = [(n, float(row[n])) for n in ORDER if isinstance(row.get(n), (int, float))]
        if metric and bars:
            panels.append((metric, ref, bars))
    cols = 3
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 5.2, rows * 3.5), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (metric, ref, bars) in zip(axes.flat, panels, strict=False):
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
        ax.set_xlim(0, top * 1.45)
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
