"""Charts as inline SVG drawn on the server: no script, no external asset, readable when printed.

Plain bar charts of counts. Text is escaped; sizes are attributes (the CSP allows no inline style).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#4472c4"
WIDTH = 420
ROW = 26
LABEL_W = 96
COUNT_W = 56


def bar_chart(title: str, items: Sequence[tuple[str, int]], colours: Sequence[str] | None = None) -> Markup:
    """Horizontal bars, one per (label, count), scaled to the largest count."""
    top = max((n for _, n in items), default=0) or 1
    height = ROW * len(items) + 8
    span = WIDTH - LABEL_W - COUNT_W
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, (label, n) in enumerate(items):
        y = 4 + i * ROW
        w = round(span * n / top, 1)
        colour = colours[i] if colours and i < len(colours) else BAR
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{LABEL_W}" y="{y + 3}" width="{w}" height="{ROW - 8}" fill="{colour}" rx="2"/>'
                     f'<text x="{LABEL_W + w + 6}" y="{y + 17}">{n}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bar(items: Sequence[tuple[str, int, str]], width: int = 1000, height: int = 18) -> Markup:
    """One bar split by (label, count, colour): the round's progress at a glance."""
    total = sum(n for _, n, _ in items) or 1
    parts = [f'<svg class="progress" role="img" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
             f'height="{height}" aria-label="进度">']
    x = 0.0
    for label, n, colour in items:
        w = width * n / total
        if w > 0:
            parts.append(f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="{height}" fill="{colour}">'
                         f'<title>{escape(label)} {n}</title></rect>')
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))


COLUMN_W = 72
CHART_H = 180


def column_chart(title: str, items: Sequence[tuple[str, float | None, str]], top: float) -> Markup:
    """Vertical columns, one per (label under it, value or None, caption above it), on a scale
    from 0 to ``top`` (a score's 100): a project's years side by side."""
    width = max(COLUMN_W * len(items) + 16, 160)
    base = CHART_H - 24
    span = base - 28
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {CHART_H}" width="{width}" height="{CHART_H}" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
             f'<line x1="4" y1="{base}" x2="{width - 4}" y2="{base}" stroke="#9aa5b1"/>']
    for i, (label, value, caption) in enumerate(items):
        x = 12 + i * COLUMN_W
        h = round(span * max(0.0, min(value, top)) / top, 1) if value is not None and top else 0
        parts.append(f'<rect x="{x}" y="{base - h}" width="{COLUMN_W - 20}" height="{h}" fill="{BAR}" rx="2"/>'
                     f'<text x="{x + (COLUMN_W - 20) / 2}" y="{base - h - 6}" text-anchor="middle">{escape(caption)}</text>'
                     f'<text x="{x + (COLUMN_W - 20) / 2}" y="{base + 17}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
