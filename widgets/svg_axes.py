"""One matplotlib Axes written as SVG in about a millisecond, for plots that update live.

matplotlib's own SVG or PNG output lays out and measures every text and tick: 70–170 ms
for the dashboard's Pareto plot on the 2-core machines we measure on, which is longer than
the 100 ms within which the plot should follow the metrics panel. The figures that update
live are simple: points, lines, a few texts on one set of axes. :func:`render_axes` writes
those directly, reading everything from the Axes, so the figure stays an ordinary matplotlib
figure (tests and notebooks read its artists; ipympl and ``savefig`` still work), and lets
the browser lay out the text. Each point can carry a tooltip (the browser's own, on hover).

Supported: one Axes with linear or log scales, its limits, major ticks with their
formatters, major and minor grid lines, title and axis labels; scatter collections
(offsets, face colours, sizes, alpha), lines in data or axes coordinates (``axhline``)
with ``default`` or ``steps-post``/``steps-pre`` draw styles, the ``-``, ``--``, ``:``,
``-.`` line styles or none, markers ``o``, ``*``, ``s``, ``^``, ``D``), annotations
and texts in data coordinates with an offset in points, and the legend's entries.
:func:`supports` says whether an Axes holds anything else (then use ``savefig``).

Example:
    >>> from matplotlib.figure import Figure
    >>> ax = Figure(figsize=(4, 3), dpi=96).subplots()
    >>> _ = ax.scatter([1, 10, 100], [80, 85, 90]); ax.set_xscale("log")
    >>> _ = ax.set_xlim(0.5, 200), ax.set_ylim(75, 95)
    >>> svg = render_axes(ax, titles={ax.collections[0]: ["a", "b", "c"]})
    >>> svg.count(b"<circle"), b"<title>b</title>" in svg, supports(ax)
    (3, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex, to_rgba
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text

__all__ = ["render_axes", "supports"]

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"  # matplotlib's default first
MARGIN = {"left": 56, "right": 12, "top": 26, "bottom": 42}  # px around the plotting area
_MARKERS = {"o", "*", "s", "^", "D", "None", "none", "", " ", None}
_DRAWSTYLES = {"default", "steps-post", "steps-pre", "steps"}
# matplotlib's line styles as SVG dash patterns, in line widths (its lines.*_pattern defaults)
_DASHES = {"-": (), "--": (3.7, 1.6), ":": (1.0, 1.65), "-.": (6.4, 1.6, 1.0, 1.6)}
_SUPERSCRIPTS = str.maketrans("0123456789-\N{MINUS SIGN}", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁻")


def supports(ax: Any) -> bool:
    """True when :func:`render_axes` draws everything visible on ``ax``'s figure."""
    figure = ax.figure
    if len(figure.axes) != 1 or figure.texts or figure.images or figure.patches:
        return False
    if ax.images or ax.tables or any(p.get_visible() for p in ax.patches):
        return False
    if ax.get_xscale() not in ("linear", "log") or ax.get_yscale() not in ("linear", "log"):
        return False
    if any(not isinstance(c, PathCollection) for c in ax.collections):
        return False
    for line in ax.lines:
        if line.get_marker() not in _MARKERS or line.get_drawstyle() not in _DRAWSTYLES:
            return False
        if line.get_linestyle() not in (*_DASHES, "None", "none", "", " "):
            return False
    return all(
        isinstance(text, Annotation) or text.get_transform() == ax.transData for text in ax.texts
    )


def render_axes(ax: Any, titles: Mapping[Any, Sequence[str]] | None = None) -> bytes:
    """SVG bytes of ``ax`` at its figure's size in pixels (``figsize × dpi``).

    ``titles``: for a scatter collection, one tooltip per point (in the order of its offsets).
    Raises ``ValueError`` naming what is not supported (see :func:`supports`).
    """
    if not supports(ax):
        raise ValueError(
            "render_axes draws one Axes of scatter collections, lines and texts with linear or "
            "log scales; this figure has more (use savefig)"
        )
    figure = ax.figure
    width, height = (round(v) for v in figure.get_size_inches() * figure.dpi)
    box = _Box(ax, width, height)
    pt = figure.dpi / 72  # px per point
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<defs><clipPath id="area"><rect x="{box.x0}" y="{box.y0}" width="{box.w}" '
        f'height="{box.h}"/></clipPath></defs>',
    ]
    out += _grid_and_ticks(ax, box, pt)
    artists = sorted(
        [*ax.collections, *ax.lines, *ax.texts], key=lambda a: a.get_zorder()
    )  # stable: equal zorders keep matplotlib's order
    titles = titles or {}
    for artist in artists:
        if not artist.get_visible():
            continue
        if isinstance(artist, PathCollection):
            out += _scatter(artist, box, pt, titles.get(artist))
        elif isinstance(artist, Line2D):
            out += _line(artist, box, pt)
        else:
            out += _text(artist, ax, box, pt)
    out.append(
        f'<rect x="{box.x0}" y="{box.y0}" width="{box.w}" height="{box.h}" fill="none" '
        'stroke="black" stroke-width="0.8"/>'
    )
    legend = ax.get_legend()
    if legend is not None and legend.get_visible():
        out += _legend(legend, box, pt, _occupied(artists, ax, box, pt))
    out += _labels(ax, box, pt, width, height)
    out.append("</svg>")
    return "\n".join(out).encode()


class _Box:
    """The plotting area in px and the map from data to it (matplotlib's own scale + limits)."""

    def __init__(self, ax: Any, width: int, height: int) -> None:
        self.x0, self.y0 = MARGIN["left"], MARGIN["top"]
        self.w = max(1, width - MARGIN["left"] - MARGIN["right"])
        self.h = max(1, height - MARGIN["top"] - MARGIN["bottom"])
        self._to_axes = ax.transScale + ax.transLimits  # data → axes fraction, scale-aware

        self._ax = ax

    def __call__(self, xy: np.ndarray, transform: Any = None) -> np.ndarray:
        """Points (n×2) in data coordinates, or in ``transform``'s (e.g. ``axhline``'s: x as
        a fraction of the axes, y in data) → px (n×2), y downwards; non-finite where not drawable."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        with np.errstate(all="ignore"):
            if transform is None or transform == self._ax.transData:
                frac = self._to_axes.transform(xy)
            else:  # through the display: both sides use the axes' current position
                frac = self._ax.transAxes.inverted().transform(transform.transform(xy))
        return np.column_stack([self.x0 + frac[:, 0] * self.w, self.y0 + (1 - frac[:, 1]) * self.h])


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _color(value: Any, alpha: float | None = None) -> tuple[str, float]:
    rgba = to_rgba(value, alpha)
    return to_hex(rgba, keep_alpha=False), rgba[3]


def _fill(value: Any, alpha: float | None = None) -> str:
    hex_, a = _color(value, alpha)
    return f'fill="{hex_}"' + (f' fill-opacity="{a:.3g}"' if a < 1 else "")


def _ticks(axis: Any, low: float, high: float, minor: bool = False) -> list[float]:
    locs = axis.get_minorticklocs() if minor else axis.get_majorticklocs()
    lo, hi = min(low, high), max(low, high)
    return [float(v) for v in locs if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)]


def _grid_and_ticks(ax: Any, box: _Box, pt: float) -> list[str]:
    out = []
    x_low, x_high = ax.get_xlim()
    y_low, y_high = ax.get_ylim()
    size = _num(ax.xaxis.get_ticklabels()[0].get_fontsize() * pt) if ax.get_xticks().size else "13"
    for axis, (low, high), horizontal in (
        (ax.xaxis, (x_low, x_high), True),
        (ax.yaxis, (y_low, y_high), False),
    ):

        def at(value: float, horizontal: bool = horizontal) -> np.ndarray:  # px on the edge
            return box(np.array([[value, y_low]] if horizontal else [[x_low, value]]))[0]

        for minor, ticks in ((True, axis.minorTicks), (False, axis.majorTicks)):
            style, tick = _grid_style(ticks), (2 if minor else 3.5) * pt
            for value in _ticks(axis, low, high, minor):
                x, y = at(value)
                if not (math.isfinite(x) and math.isfinite(y)):
                    continue
                if horizontal:
                    grid_line = (x, box.y0, x, box.y0 + box.h)
                    tick_line = (x, box.y0 + box.h, x, box.y0 + box.h + tick)
                else:
                    grid_line = (box.x0, y, box.x0 + box.w, y)
                    tick_line = (box.x0 - tick, y, box.x0, y)
                if style:
                    out.append(_segment(grid_line, style))
                out.append(_segment(tick_line, 'stroke="black" stroke-width="0.8"'))
        majors = _ticks(axis, low, high)
        labels = axis.get_major_formatter().format_ticks(majors) if majors else []
        for value, label in zip(majors, labels, strict=True):
            if not label:
                continue
            x, y = at(value)
            text = escape(_plain(label))
            if horizontal:
                out.append(
                    f'<text x="{_num(x)}" y="{_num(box.y0 + box.h + 5 * pt)}" '
                    f'font-size="{size}" text-anchor="middle" dominant-baseline="hanging">'
                    f"{text}</text>"
                )
            else:
                out.append(
                    f'<text x="{_num(box.x0 - 5 * pt)}" y="{_num(y)}" font-size="{size}" '
                    f'text-anchor="end" dominant-baseline="central">{text}</text>'
                )
    return out


def _segment(ends: tuple[float, float, float, float], style: str) -> str:
    x1, y1, x2, y2 = (_num(v) for v in ends)
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" {style}/>'


def _grid_style(ticks: list) -> str:
    """The grid line style of an axis' ticks ('' when its grid is off)."""
    if not ticks or not ticks[0].gridline.get_visible():
        return ""
    line = ticks[0].gridline
    hex_, alpha = _color(line.get_color(), line.get_alpha())
    return (
        f'stroke="{hex_}" stroke-opacity="{alpha:.3g}" '
        f'stroke-width="{_num(max(0.5, line.get_linewidth()))}"'
    )


def _plain(label: str) -> str:
    """Tick labels from mathtext formatters ("$\\mathdefault{10^{3}}$") as plain text."""
    if label.startswith("$") and label.endswith("$"):
        label = label.strip("$").replace("\\mathdefault", "").replace("\\times", "×")
        base, _, power = label.replace("{", "").replace("}", "").partition("^")
        label = base + power.translate(_SUPERSCRIPTS)
    return label


def _scatter(
    collection: PathCollection, box: _Box, pt: float, titles: Sequence[str] | None
) -> list[str]:
    offsets = np.asarray(collection.get_offsets(), dtype=float).reshape(-1, 2)
    if not len(offsets):
        return []
    px = box(offsets)
    faces = collection.get_facecolor()
    sizes = collection.get_sizes()
    alpha = collection.get_alpha()
    edges = collection.get_edgecolor()
    out = ['<g clip-path="url(#area)">']
    for i, (x, y) in enumerate(px):
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        face = faces[i % len(faces)] if len(faces) else (0, 0, 0, 0)
        radius = math.sqrt(sizes[i % len(sizes)] if len(sizes) else 36.0) / 2 * pt
        stroke = ""
        if len(edges):
            hex_, a = _color(edges[i % len(edges)], alpha)
            if a > 0:
                stroke = f' stroke="{hex_}" stroke-opacity="{a:.3g}" stroke-width="0.8"'
        title = titles[i] if titles is not None and i < len(titles) else None
        circle = f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{_num(radius)}" {_fill(face, alpha)}'
        out.append(
            f"{circle}{stroke}><title>{escape(str(title))}</title></circle>"
            if title
            else f"{circle}{stroke}/>"
        )
    out.append("</g>")
    return out


def _steps(px: np.ndarray, style: str) -> np.ndarray:
    if style == "default" or len(px) < 2:
        return px
    out = [px[0]]
    for a, b in zip(px[:-1], px[1:], strict=True):
        corner = (b[0], a[1]) if style == "steps-post" else (a[0], b[1])
        out += [np.array(corner), b]
    return np.array(out)


def _line(line: Line2D, box: _Box, pt: float) -> list[str]:
    data = np.asarray(line.get_xydata(), dtype=float).reshape(-1, 2)
    if not len(data):
        return []
    px = box(data, line.get_transform())
    px = px[np.isfinite(px).all(axis=1)]
    out = []
    color, alpha = _color(line.get_color(), line.get_alpha())
    width = line.get_linewidth() * pt
    if line.get_linestyle() in _DASHES and len(px) >= 2:
        style = line.get_drawstyle()
        path = _steps(px, "steps-pre" if style == "steps" else style)
        points = " ".join(f"{_num(x)},{_num(y)}" for x, y in path)
        dashes = _DASHES[line.get_linestyle()]
        dash = f' stroke-dasharray="{" ".join(_num(d * width) for d in dashes)}"' if dashes else ""
        out.append(
            f'<polyline clip-path="url(#area)" points="{points}" fill="none" stroke="{color}" '
            f'stroke-opacity="{alpha:.3g}" stroke-width="{_num(width)}"{dash} '
            'stroke-linejoin="round"/>'
        )
    marker = line.get_marker()
    if marker not in ("None", "none", "", " ", None):
        size = line.get_markersize() * pt
        face, _ = _color(line.get_markerfacecolor(), line.get_alpha())
        edge, _ = _color(line.get_markeredgecolor(), line.get_alpha())
        width = _num(line.get_markeredgewidth() * pt)
        for x, y in px:
            out.append(
                _marker(marker, x, y, size)
                + f' fill="{face}" stroke="{edge}" stroke-width="{width}"/>'
            )
    return out


def _marker(marker: str, x: float, y: float, size: float) -> str:
    """The opening of an SVG element for one marker of ``size`` px (matplotlib's ``ms``)."""
    r = size / 2
    if marker == "o":
        return f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{_num(r)}"'
    if marker == "s":
        return (
            f'<rect x="{_num(x - r)}" y="{_num(y - r)}" width="{_num(size)}" height="{_num(size)}"'
        )
    if marker == "*":
        corners = [
            (
                x + (r if k % 2 == 0 else r * 0.382) * math.sin(k * math.pi / 5),
                y - (r if k % 2 == 0 else r * 0.382) * math.cos(k * math.pi / 5),
            )
            for k in range(10)
        ]  # five points, inner radius 0.382 of the outer, as matplotlib's star
    elif marker == "^":
        corners = [(x, y - r), (x + r, y + r), (x - r, y + r)]
    else:  # "D"
        corners = [(x, y - r), (x + r * 0.6, y), (x, y + r), (x - r * 0.6, y)]
    points = " ".join(f"{_num(a)},{_num(b)}" for a, b in corners)
    return f'<polygon points="{points}"'


def _text(text: Text, ax: Any, box: _Box, pt: float) -> list[str]:
    content = text.get_text()
    if not content:
        return []
    if isinstance(text, Annotation):
        anchor = box(np.array([text.xy]))[0]
        dx, dy = text.xyann if text.anncoords == "offset points" else (0, 0)
    else:
        anchor = box(np.array([text.get_position()]))[0]
        dx = dy = 0
    if not np.isfinite(anchor).all():
        return []
    x, y = anchor[0] + dx * pt, anchor[1] - dy * pt
    color, _ = _color(text.get_color())
    align = {"left": "start", "center": "middle", "right": "end"}[text.get_horizontalalignment()]
    baseline = {"baseline": "auto", "bottom": "auto", "center": "central", "top": "hanging"}.get(
        text.get_verticalalignment(), "auto"
    )
    return [
        f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(text.get_fontsize() * pt)}" '
        f'fill="{color}" text-anchor="{align}" dominant-baseline="{baseline}">'
        f"{escape(content)}</text>"
    ]


def _occupied(artists: Sequence[Any], ax: Any, box: _Box, pt: float) -> np.ndarray:
    """Pixels (n×2) the data and the texts cover: every point, every line vertex, and a grid
    over each text's estimated extent (what a legend placed "best" must not hide)."""
    from .placement import text_box

    spots = [np.empty((0, 2))]
    for artist in artists:
        if not artist.get_visible():
            continue
        if isinstance(artist, PathCollection):
            spots.append(box(artist.get_offsets()))
        elif isinstance(artist, Line2D):
            spots.append(box(artist.get_xydata(), artist.get_transform()))
        elif artist.get_text():
            xy = artist.xy if isinstance(artist, Annotation) else artist.get_position()
            anchor = box(np.array([xy]))[0]
            dx, dy = artist.xyann if getattr(artist, "anncoords", "") == "offset points" else (0, 0)
            align = artist.get_horizontalalignment()
            size = artist.get_fontsize()
            x0, y0, x1, y1 = text_box(dx, dy, artist.get_text(), size, align) * pt
            gx, gy = np.meshgrid(np.linspace(x0, x1, 6), np.linspace(-y0, -y1, 3))
            spots.append(np.column_stack([anchor[0] + gx.ravel(), anchor[1] + gy.ravel()]))
    every = np.concatenate(spots)
    return every[np.isfinite(every).all(axis=1)]


def _legend(legend: Legend, box: _Box, pt: float, occupied: np.ndarray | None = None) -> list[str]:
    entries = [
        (handle, text.get_text())
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=False)
        if text.get_text()
    ]
    if not entries:
        return []
    size = legend.get_texts()[0].get_fontsize() * pt
    row = size * 1.5
    widest = max(len(label) for _, label in entries)
    w = 30 + widest * size * 0.56
    h = row * len(entries) + size * 0.6
    location = legend._get_loc()  # matplotlib's code: 0 best, 1 upper right … 4 lower right
    location = location if isinstance(location, int) else 4

    def corner(code: int) -> tuple[float, float]:
        right, lower = code in (1, 4, 5, 7), code in (3, 4, 8)
        return (
            box.x0 + box.w - w - 6 if right else box.x0 + 6,
            box.y0 + box.h - h - 6 if lower else box.y0 + 6,
        )

    if location == 0:  # "best": the corner hiding the fewest points and texts
        spots = np.empty((0, 2)) if occupied is None else occupied

        def hidden(code: int) -> int:
            x, y = corner(code)
            inside = (spots[:, 0] >= x - 4) & (spots[:, 0] <= x + w + 4)
            return int((inside & (spots[:, 1] >= y - 4) & (spots[:, 1] <= y + h + 4)).sum())

        location = min((4, 1, 2, 3), key=hidden)  # ties: lower right first
    x0, y0 = corner(location)
    alpha = legend.get_frame().get_alpha() or 0.8
    out = [
        f'<rect x="{_num(x0)}" y="{_num(y0)}" width="{_num(w)}" height="{_num(h)}" rx="3" '
        f'fill="white" fill-opacity="{alpha:.2g}" stroke="#cccccc"/>'
    ]
    for i, (handle, label) in enumerate(entries):
        cy = y0 + size * 0.3 + row * (i + 0.5)
        if isinstance(handle, Line2D):
            color, _ = _color(handle.get_color())
            if handle.get_linestyle() in _DASHES:
                width = handle.get_linewidth() * pt
                dashes = " ".join(_num(d * width) for d in _DASHES[handle.get_linestyle()])
                out.append(
                    _segment(
                        (x0 + 6, cy, x0 + 22, cy),
                        f'stroke="{color}" stroke-width="{_num(width)}"'
                        + (f' stroke-dasharray="{dashes}"' if dashes else ""),
                    )
                )
            marker = handle.get_marker()
            if marker not in ("None", "none", "", " ", None):
                face, _ = _color(handle.get_markerfacecolor())
                edge, _ = _color(handle.get_markeredgecolor())
                out.append(
                    _marker(marker, x0 + 14, cy, min(handle.get_markersize() * pt, row))
                    + f' fill="{face}" stroke="{edge}" stroke-width="0.8"/>'
                )
        else:  # a scatter collection's handle
            faces = handle.get_facecolor()
            face = faces[0] if len(faces) else (0, 0, 0, 1)
            out.append(
                f'<circle cx="{_num(x0 + 14)}" cy="{_num(cy)}" r="{_num(size * 0.35)}" '
                f"{_fill(face, handle.get_alpha())}/>"
            )
        out.append(
            f'<text x="{_num(x0 + 28)}" y="{_num(cy)}" font-size="{_num(size)}" '
            f'dominant-baseline="central">{escape(label)}</text>'
        )
    return out


def _labels(ax: Any, box: _Box, pt: float, width: int, height: int) -> list[str]:
    out = []
    title = ax.get_title()
    if title:
        size = ax.title.get_fontsize() * pt
        out.append(
            f'<text x="{_num(box.x0 + box.w / 2)}" y="{_num(box.y0 - 8)}" '
            f'font-size="{_num(size)}" text-anchor="middle">{escape(title)}</text>'
        )
    xlabel, ylabel = ax.get_xlabel(), ax.get_ylabel()
    if xlabel:
        size = ax.xaxis.label.get_fontsize() * pt
        out.append(
            f'<text x="{_num(box.x0 + box.w / 2)}" y="{height - 6}" font-size="{_num(size)}" '
            f'text-anchor="middle">{escape(xlabel)}</text>'
        )
    if ylabel:
        size = ax.yaxis.label.get_fontsize() * pt
        cy = box.y0 + box.h / 2
        out.append(
            f'<text x="{_num(size)}" y="{_num(cy)}" font-size="{_num(size)}" text-anchor="middle" '
            f'dominant-baseline="central" transform="rotate(-90 {_num(size)} {_num(cy)})">'
            f"{escape(ylabel)}</text>"
        )
    return out
