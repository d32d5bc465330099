"""Charts drawn on the server as inline SVG: no chart library, nothing fetched by the browser."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 320
ROW = 34
LABEL = 96
COLOURS = ("#a61b1b", "#2f6fbf", "#1e7b34", "#9a5b00", "#5b3a8c")


def bar_chart(title: str, bars: list[tuple[str, int]]) -> Markup:
    """Horizontal bars for counts, each labelled with its number."""
    top = max((v for _, v in bars), default=0) or 1
    span = WIDTH - LABEL - 44
    rows = []
    for i, (label, value) in enumerate(bars):
        y = i * ROW + 6
        width = round(span * value / top, 1)
        rows.append(
            f'<text x="0" y="{y + 16}" class="label">{escape(label)}</text>'
            f'<rect x="{LABEL}" y="{y + 2}" width="{max(width, 1)}" height="20" rx="3"'
            f' fill="{COLOURS[i % len(COLOURS)]}"/>'
            f'<text x="{LABEL + width + 6}" y="{y + 17}" class="value">{value}</text>'
        )
    return _svg(title, len(bars), "".join(rows))


def rate_chart(title: str, rates: list[tuple[str, float | None]], no_data: str) -> Markup:
    """Horizontal bars for rates on a 0–100% scale; a missing rate says there is no data."""
    span = WIDTH - LABEL - 52
    rows = []
    for i, (label, rate) in enumerate(rates):
        y = i * ROW + 6
        rows.append(
            f'<text x="0" y="{y + 16}" class="label">{escape(label)}</text>'
            f'<rect x="{LABEL}" y="{y + 2}" width="{span}" height="20" rx="3" fill="#e8ebef"/>'
        )
        if rate is None:
            rows.append(
                f'<text x="{LABEL + 6}" y="{y + 17}" class="value">{escape(no_data)}</text>'
            )
            continue
        width = round(span * max(0.0, min(1.0, rate)), 1)
        rows.append(
            f'<rect x="{LABEL}" y="{y + 2}" width="{width}" height="20" rx="3"'
            f' fill="{COLOURS[(i + 1) % len(COLOURS)]}"/>'
            f'<text x="{LABEL + span + 6}" y="{y + 17}" class="value">{percent(rate)}</text>'
        )
    return _svg(title, len(rates), "".join(rows))


def percent(rate: float | None) -> str:
    """Format a rate as a percentage, without needless decimals."""
    if rate is None:
        return "—"
    value = round(rate * 100, 2)
    return f"{value:g}%"


def _svg(title: str, count: int, body: str) -> Markup:
    height = max(count, 1) * ROW + 12
    return Markup(
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        "<style>.label{font-size:13px;fill:#1b1f24}.value{font-size:13px;fill:#1b1f24;"
        f"font-weight:600}}</style>{body}</svg>"
    )
