"""What a screen reader hears from a slider: the value it stands for, not the slider's position.

ipywidgets 8 draws sliders with noUiSlider, which writes the handle's ``aria-valuenow``,
``-valuemin``, ``-valuemax`` (one decimal) and ``aria-valuetext`` from its own position: a
:class:`~ipywidgets.SelectionSlider` says its option's *index* ("3" for 5 bits), a log
slider its exponent ("6" for 1,000,000 a day), a percent slider "70" for 70 %. ipywidgets
has no setting for them. :class:`SliderAria` is a hidden HTML widget placed inside the
component that owns the slider: it carries a table (slider position → value, text) and a
few lines of script that rewrite the handle's four attributes after each of noUiSlider's
own writes (a MutationObserver), so assistive tech reads "5 bits" and 5 (1 to 32).

The table is computed here, in Python (:func:`aria_table`), so tests read exactly what the
page receives; :data:`ARIA_FOR_JS` (the mapping from a position to the attributes, a pure
function) is tested by running it in Node where Node is installed, and the whole in
Chromium (``tests/test_browser.py``).

Example:
    >>> import ipywidgets as w
    >>> bits = w.SelectionSlider(options=[("off (fp32)", 32), ("8 bits", 8), ("4 bits", 4)])
    >>> aria = SliderAria(bits, "lab-bits-slider", text=lambda bits: f"{bits} bits")
    >>> aria.spec["rows"][1], aria.spec["low"], aria.spec["high"]
    ([8, '8 bits'], 4, 32)
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from typing import Any

import ipywidgets as w

__all__ = ["ARIA_FOR_JS", "SliderAria", "aria_table"]

# (spec, position) → [valuenow, valuetext, valuemin, valuemax]: the row of the table
# nearest to the position (noUiSlider's get(): an index, an exponent or the value itself)
ARIA_FOR_JS = (
    "function(s,p){var i=Math.round((Number(p)-s.min)/s.step);"
    "i=Math.max(0,Math.min(s.rows.length-1,isFinite(i)?i:0));"
    "var r=s.rows[i];return[String(r[0]),r[1],String(s.low),String(s.high)]}"
)

# Finds the slider (CSS class s.slider) inside the component holding this image, and
# rewrites its handle's attributes after every write of noUiSlider's (only when they
# differ: the observer then sees its own writes once and stops). A re-rendered slider
# (new options) is found again: the observer watches the whole component.
_INSTALL_JS = (
    "(function(img){var host=img.closest('.'+img.dataset.host);if(!host)return;"
    "var s=JSON.parse(img.dataset.aria),f=" + ARIA_FOR_JS + ",names=['aria-valuenow',"
    "'aria-valuetext','aria-valuemin','aria-valuemax'];"
    "function apply(){var t=host.querySelector('.'+s.slider+' .noUi-target');"
    "if(!t||!t.noUiSlider)return;var h=t.querySelector('.noUi-handle');if(!h)return;"
    "var v=f(s,t.noUiSlider.get());for(var k=0;k<4;k++){"
    "if(h.getAttribute(names[k])!==v[k])h.setAttribute(names[k],v[k])}}"
    "if(host._labAria)host._labAria.disconnect();"
    "host._labAria=new MutationObserver(apply);host._labAria.observe(host,{subtree:true,"
    "childList:true,attributes:true,attributeFilter:names});apply()})(this)"
)

MAX_ROWS = 1001  # a slider with more positions than this needs another mapping


def aria_table(
    slider: w.Widget,
    text: Callable[[Any], str],
    now: Callable[[Any], float] | None = None,
) -> dict:
    """What each position of ``slider`` means: ``{"min", "step", "rows", "low", "high"}``,
    ``rows[i]`` = ``[valuenow, valuetext]`` at the i-th position (noUiSlider's value
    ``min + i × step``). ``text(value)`` is what is read out for a value of the widget
    (an option's value, the slider's value; a log slider's ``base ** exponent``); ``now``
    turns it into the number announced as ``aria-valuenow`` (default: the value itself).

    Example:
        >>> import ipywidgets as w
        >>> spec = aria_table(w.IntSlider(min=0, max=90, step=45), lambda p: f"{p} %")
        >>> spec["rows"], spec["low"], spec["high"]
        ([[0, '0 %'], [45, '45 %'], [90, '90 %']], 0, 90)
    """
    now = now or (lambda value: value)
    if isinstance(slider, w.SelectionSlider):
        values = [o[1] if isinstance(o, tuple) else o for o in slider.options]
        start, step = 0, 1
    elif isinstance(slider, (w.IntSlider, w.FloatSlider, w.FloatLogSlider)):
        start, step = slider.min, slider.step or 1
        count = int(math.floor((slider.max - slider.min) / step + 1e-9)) + 1
        if count > MAX_ROWS:
            raise ValueError(
                f"aria_table covers sliders of at most {MAX_ROWS} positions; this one has "
                f"{count} (min={slider.min}, max={slider.max}, step={step})"
            )
        values = [slider.min + i * step for i in range(count)]
        if isinstance(slider, w.FloatLogSlider):
            values = [slider.base**v for v in values]
        elif isinstance(slider, w.FloatSlider):
            values = [round(v, 12) for v in values]
    else:
        raise TypeError(
            "aria_table reads an IntSlider, FloatSlider, FloatLogSlider or SelectionSlider; "
            f"got {type(slider).__name__}"
        )
    rows = [[_number(now(v)), text(v)] for v in values]
    numbers = [row[0] for row in rows]
    return {"min": start, "step": step, "rows": rows, "low": min(numbers), "high": max(numbers)}


def _number(value: Any) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else round(value, 6)


class SliderAria(w.HTML):
    """Hidden; place it inside the component (a Box with CSS class ``host``, default the
    first class of ``slider``'s container: pass it) that holds ``slider`` (which must carry
    ``slider_class``). :meth:`refresh` after the slider's options, range or the meaning of a
    position change. ``spec`` is the table the page gets (:func:`aria_table`).
    """

    def __init__(
        self,
        slider: w.Widget,
        slider_class: str,
        text: Callable[[Any], str],
        now: Callable[[Any], float] | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__(layout={"width": "0px", "height": "0px", "overflow": "hidden"})
        self.add_class("lab-aria")
        self.slider, self.slider_class = slider, slider_class
        self.host = host or slider_class.removesuffix("-slider")
        self._text, self._now = text, now
        self.spec: dict = {}
        self.refresh()

    def refresh(self) -> None:
        """Recompute the table from the slider and send it to the page (if it changed)."""
        spec = {**aria_table(self.slider, self._text, self._now), "slider": self.slider_class}
        if spec == self.spec:
            return
        self.spec = spec
        self.value = (
            f"<img src='data:,' alt='' hidden data-host='{html.escape(self.host, quote=True)}' "
            f"data-aria='{html.escape(json.dumps(spec, ensure_ascii=False), quote=True)}' "
            f'onerror="{html.escape(_INSTALL_JS, quote=True)}">'
        )
