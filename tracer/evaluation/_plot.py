"""A precision/recall plot as a small self-contained SVG: no plotting library to install, and it
opens in any browser or document."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

W, H, PAD = 560, 420, 56


def _x(recall: float) -> float:
    return PAD + recall * (W - 2 * PAD)


def _y(precision: float, low: float = 0.0) -> float:
    return H - PAD - (precision - low) / (1 - low) * (H - 2 * PAD)


def pr_svg(curves: dict[str, Sequence[dict[str, float]]], operating: dict[str, tuple[float, float]], title: str) -> str:
    """One line per curve (e.g. overall, en, ru, uk); a dot marks each curve's operating point
    (the calibrated threshold)."""
    colours = ["#111827", "#2563eb", "#dc2626", "#16a34a", "#9333ea"]
    # Precision lives near 1: the axis starts at the lowest tenth any curve reaches.
    low = min(0.9, min((p["precision"] for c in curves.values() for p in c), default=0.0) // 0.1 / 10)

    def y(v: float) -> float:
        return _y(v, low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="system-ui, sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for i in range(11):
        v, pv = i / 10, low + (1 - low) * i / 10
        parts.append(f'<line x1="{_x(v)}" y1="{y(low)}" x2="{_x(v)}" y2="{y(1)}" stroke="#e5e7eb"/>')
        parts.append(f'<line x1="{_x(0)}" y1="{y(pv)}" x2="{_x(1)}" y2="{y(pv)}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{_x(v)}" y="{y(low) + 16}" text-anchor="middle">{v:.1f}</text>')
        parts.append(f'<text x="{_x(0) - 8}" y="{y(pv) + 4}" text-anchor="end">{pv:.2f}</text>')
    parts.append(f'<text x="{W / 2}" y="{H - 14}" text-anchor="middle">recall (sourced sentences traced right)</text>')
    parts.append(f'<text x="16" y="{H / 2}" text-anchor="middle" transform="rotate(-90 16 {H / 2})">'
                 "precision (traced sentences right)</text>")  # fmt: skip
    for k, (name, curve) in enumerate(curves.items()):
        colour = colours[k % len(colours)]
        points = " ".join(f"{_x(p['recall']):.1f},{y(p['precision']):.1f}" for p in curve)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if name in operating:
            r, p = operating[name]
            parts.append(f'<circle cx="{_x(r):.1f}" cy="{y(p):.1f}" r="4" fill="{colour}"/>')
        ly = H - PAD - 12 - 16 * (len(curves) - 1 - k)
        parts.append(
            f'<line x1="{_x(0) + 12}" y1="{ly}" x2="{_x(0) + 32}" y2="{ly}" stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(f'<text x="{_x(0) + 38}" y="{ly + 4}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
