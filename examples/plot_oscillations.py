"""Plot oscillations per epoch from ``qcc train --history`` files as an SVG line chart (no plotting
library needed): ``python examples/plot_oscillations.py OUT.svg lsq=h_lsq.npz dampen=h_dampen.npz ...``.

docs/qat.md shows the chart this made for the example model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, MARGIN = 560, 320, 56
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def polyline(xs: np.ndarray, ys: np.ndarray, x_max: float, y_max: float, colour: str) -> str:
    def px(x: float) -> float:
        return MARGIN + (x - 1) / max(x_max - 1, 1) * (WIDTH - 2 * MARGIN)

    def py(y: float) -> float:
        return HEIGHT - MARGIN - y / y_max * (HEIGHT - 2 * MARGIN)

    points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'


def chart(series: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    x_max = max(float(xs.max()) for xs, _ in series.values())
    y_max = max(float(ys.max()) for _, ys in series.values()) * 1.1 or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" y2="{HEIGHT - MARGIN}" stroke="black"/>',
             f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{HEIGHT - MARGIN}" stroke="black"/>',
             f'<text x="{WIDTH / 2}" y="{HEIGHT - 16}" text-anchor="middle">epoch (1 to {int(x_max)})</text>',
             f'<text x="16" y="{HEIGHT / 2}" transform="rotate(-90 16 {HEIGHT / 2})" text-anchor="middle">oscillations per epoch</text>',
             f'<text x="{MARGIN - 6}" y="{MARGIN + 4}" text-anchor="end">{y_max:.0f}</text>',
             f'<text x="{MARGIN - 6}" y="{HEIGHT - MARGIN + 4}" text-anchor="end">0</text>']
    for i, (name, (xs, ys)) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        parts.append(polyline(xs, ys, x_max, y_max, colour))
        parts.append(f'<text x="{WIDTH - MARGIN - 4}" y="{MARGIN + 16 * i}" text-anchor="end" fill="{colour}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    series = {}
    for item in argv[1:]:
        name, _, path = item.partition("=")
        with np.load(path) as history:
            series[name] = (history["epoch"], history["oscillations"])
    Path(argv[0]).write_text(chart(series))
    print(f"wrote {argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
