"""Inline SVG charts for the HTML report: line charts and horizontal bar charts.

Each function returns one ``<svg>`` element as text, styled by the classes of
``templates/report.css`` (``s1``..``s4`` colour a series). Coordinates are rounded to
0.1 px to keep pages small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Series:
    """One line: ``points`` are (x, y); a ``None`` y breaks the line there.

    ``css`` holds the classes of the line, e.g. ``"s1"`` or ``"s2 dashed"``.
    """

    label: str
    points: Sequence[tuple[float, float | None]]
    css: str


@dataclass(frozen=True)
class Frame:
    """Where the plot area sits in the SVG and which data range it shows."""

    width: float
    height: float
    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] = (0.0, 1.0)
    left: float = 38.0
    right: float = 10.0
    top: float = 8.0
    bottom: float = 30.0

    def x(self, value: float) -> float:
        lo, hi = self.x_range
        span = hi - lo or 1.0
        return self.left + (value - lo) / span * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        lo, hi = self.y_range
        span = hi - lo or 1.0
        return (
            self.height - self.bottom - (value - lo) / span * (self.height - self.top - self.bottom)
        )


def _ticks(lo: float, hi: float, n: int) -> list[float]:
    return [lo + (hi - lo) * i / n for i in range(n + 1)]


def _label(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != 0 else "0"


def _axes(frame: Frame, x_label: str, y_label: str, n_ticks: int) -> list[str]:
    parts = []
    x0, x1 = frame.x(frame.x_range[0]), frame.x(frame.x_range[1])
    y0, y1 = frame.y(frame.y_range[0]), frame.y(frame.y_range[1])
    for value in _ticks(*frame.y_range, n_ticks):
        y = frame.y(value)
        parts.append(
            f'<line class="grid-line" x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text x="{x0 - 4:.1f}" y="{y + 4:.1f}" text-anchor="end">{_label(value)}</text>'
        )
    for value in _ticks(*frame.x_range, n_ticks):
        x = frame.x(value)
        parts.append(
            f'<line class="grid-line" x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{y0 + 13:.1f}" text-anchor="middle">{_label(value)}</text>'
        )
    parts.append(f'<line class="axis" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y0:.1f}"/>')
    parts.append(f'<line class="axis" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x0:.1f}" y2="{y1:.1f}"/>')
    parts.append(
        f'<text x="{(x0 + x1) / 2:.1f}" y="{frame.height - 3:.1f}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text transform="translate(10 {(y0 + y1) / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    return parts


def _runs(series: Series, frame: Frame) -> list[str]:
    """Polylines of the series, one per run of defined points."""
    out: list[str] = []
    run: list[str] = []
    for x, y in list(series.points) + [(0.0, None)]:
        if y is None:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                out.append(f'<circle class="{series.css}" cx="{cx}" cy="{cy}" r="2"/>')
            elif run:
                out.append(f'<polyline class="series {series.css}" points="{" ".join(run)}"/>')
            run = []
        else:
            run.append(f"{frame.x(x):.1f},{frame.y(y):.1f}")
    return out


def line_chart(
    series: Sequence[Series],
    frame: Frame,
    *,
    title: str,
    x_label: str,
    y_label: str,
    n_ticks: int = 5,
    marker_x: float | None = None,
) -> str:
    """A line chart of several series on shared axes.

    Parameters
    ----------
    series : sequence of Series
    frame : Frame
    title : str
        Accessible name of the chart (also its tooltip).
    x_label, y_label : str
    n_ticks : int
        Intervals between grid lines on each axis.
    marker_x : float, optional
        Draw a vertical dashed line at this x (e.g. the best threshold).
    """
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'width="{frame.width:.0f}" height="{frame.height:.0f}" '
        f'viewBox="0 0 {frame.width:.0f} {frame.height:.0f}">',
        f"<title>{escape(title)}</title>",
    ]
    parts += _axes(frame, x_label, y_label, n_ticks)
    if marker_x is not None:
        x = frame.x(marker_x)
        parts.append(
            f'<line class="series s4 dashed" x1="{x:.1f}" y1="{frame.y(frame.y_range[0]):.1f}" '
            f'x2="{x:.1f}" y2="{frame.y(frame.y_range[1]):.1f}"/>'
        )
    for s in series:
        parts += _runs(s, frame)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    bars: Sequence[tuple[str, float | None, str, str]],
    *,
    title: str,
    width: float = 560.0,
    bar_height: float = 22.0,
    label_width: float = 130.0,
) -> str:
    """Horizontal bars from 0 to the largest value.

    Parameters
    ----------
    bars : sequence of (label, value, css class, text shown after the bar)
        A ``None`` value draws no bar.
    title : str
    width, bar_height, label_width : float
        Sizes in px.
    """
    values = [v for _, v, _, _ in bars if v is not None]
    top = max(max(values, default=0.0), 1e-12)
    room = width - label_width - 120  # space left for the value text
    height = bar_height * len(bars) + 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value, css, text) in enumerate(bars):
        y = 3 + i * bar_height
        parts.append(
            f'<text x="{label_width - 8:.1f}" y="{y + bar_height * 0.68:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        length = 0.0 if value is None else max(value, 0.0) / top * room
        if value is not None:
            parts.append(
                f'<rect class="{css}" x="{label_width:.1f}" y="{y + 3:.1f}" '
                f'width="{length:.1f}" height="{bar_height - 6:.1f}" rx="2"/>'
            )
        parts.append(
            f'<text class="value" x="{label_width + length + 6:.1f}" '
            f'y="{y + bar_height * 0.68:.1f}">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
