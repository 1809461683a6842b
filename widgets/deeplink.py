"""Deep links: a URL query sets up the dashboard, and a link always holds its configuration.

Open the Voilà app with a query, e.g.
``http://127.0.0.1:8866/?model=cnn&sparsity=0.5&bits=4&country=IND``,
and the dashboard starts there; the "link to this configuration" bar (:class:`DeepLink`)
follows the sliders, and its *Copy link* button puts the page's address with that query
on the clipboard (the browser's Clipboard API, or a copy command where the page is not a
secure context).

=============== ==================================================================
parameter       allowed
=============== ==================================================================
``model``       a model the dashboard offers: the zoo's (``cnn``, ``teacher``, ``mobile``,
                ``mlp``) and any of your own
``sparsity``    fraction of weights pruned, a number in [0, 1) (``0.9``); the dashboard
                allows up to its slider's maximum (95 %) in 5 % steps
``structure``   ``unstructured`` (single weights) or ``channel`` (whole filters)
``bits``        weight bits, an integer from 1 to 8, or ``off`` (= ``32``, fp32)
``granularity`` ``channel`` or ``tensor`` (one quantization scale per channel or per tensor)
``resolution``  input pixels per side, an integer from 2 to 4096 (the recipe schema); the
                dashboard allows the sizes its resolution slider offers for the chosen
                model and data — on Fashion-MNIST, the app's data, an integer from 4 to 28
                (28, 24, 21, 18, 14, 12, 10, 8, 7 for the zoo's models)
``country``     ISO 3166 alpha-3 code of the grid pricing CO₂ (``FRA``, ``IND``, …)
=============== ==================================================================

A parameter that is unknown or has a bad value is reported in a visible message naming
what is allowed; the other parameters are still applied. ``token``, ``theme`` and
``template`` belong to Jupyter/Voilà and are ignored (and never copied into a link).

Voilà gives the kernel the page's query string in the ``QUERY_STRING`` environment
variable (``voila/handler.py``); a *preheated* kernel runs the notebook before anyone
visits, so :func:`request_query` first waits for the visitor's request with Voilà's
``wait_for_request``.

Example:
    >>> config, problems = parse_query("?model=mobile&sparsity=0.9&bits=4&colour=red")
    >>> config
    LinkConfig(model='mobile', sparsity=0.9, structure=None, bits=4, granularity=None, resolution=None, country=None)
    >>> problems
    ["unknown parameter 'colour' ignored; allowed: model, sparsity, structure, bits, granularity, resolution, country"]
    >>> format_query(config)
    'model=mobile&sparsity=0.9&bits=4'
"""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import parse_qsl, quote

import ipywidgets as w
import traitlets as t

from lab.datasets import fashion as data
from lab.meters import energy
from lab.models import zoo
from lab.techniques import schema
from widgets.validation import percent_hint

__all__ = [
    "IGNORED",
    "KEYS",
    "DeepLink",
    "LinkConfig",
    "apply_config",
    "config_of",
    "format_query",
    "parse_query",
    "request_query",
]

KEYS = ("model", "sparsity", "structure", "bits", "granularity", "resolution", "country")
IGNORED = ("token", "theme", "template")  # Jupyter's and Voilà's own query parameters
STRUCTURES = ("unstructured", "channel")
GRANULARITIES = ("channel", "tensor")
OFF_BITS = schema.OFF_BITS
BITS = (*schema.BITS, OFF_BITS)
MAX_FIELDS = 64  # a longer query is refused as a whole
REQUEST_ATTEMPTS = 12  # tries to receive a preheated kernel's request from Voilà
_SHOWN = 40  # characters of a bad value quoted back in a message

ALLOWED = {
    "model": "one of {models}",
    "sparsity": f"a fraction in {schema.SPARSITY.describe()}, e.g. 0.9 (90 % of the weights "
    "removed)",
    "structure": "unstructured or channel",
    "bits": f"an integer from {min(schema.BITS)} to {max(schema.BITS)}, or off ({OFF_BITS}) "
    "for fp32",
    "granularity": "channel or tensor",
    "resolution": f"an integer number of pixels from {schema.RESOLUTION_MIN} to "
    f"{schema.RESOLUTION_MAX}, e.g. 14",
    "country": "an ISO 3166 alpha-3 code known to codecarbon, e.g. FRA, DEU, USA, IND",
}


@dataclass(frozen=True)
class LinkConfig:
    """A dashboard configuration from a link; ``None`` means "not given" (left as it is)."""

    model: str | None = None
    sparsity: float | None = None
    structure: str | None = None
    bits: int | None = None
    granularity: str | None = None
    resolution: int | None = None
    country: str | None = None


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def _parse_value(key: str, text: str, models: tuple[str, ...]) -> Any:
    """The value of ``key`` in ``text``; ValueError (naming what is allowed) when it is bad."""
    text = text.strip()
    if key == "model":
        if text in models:
            return text
    elif key == "sparsity":
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if schema.SPARSITY.contains(value):
            return value
        hint = percent_hint(
            value, schema.SPARSITY.contains
        )  # ?sparsity=50: a percentage, refused with the fraction
        if hint:
            raise ValueError(f"{key}={_shown(text)} ignored: {key} must be {ALLOWED[key]}{hint}")
    elif key == "structure":
        if text.lower() in STRUCTURES:
            return text.lower()
    elif key == "granularity":
        if text.lower() in GRANULARITIES:
            return text.lower()
    elif key == "bits":
        if text.lower() in ("off", "fp32"):
            return OFF_BITS
        if text.isascii() and text.isdigit() and int(text) in BITS:
            return int(text)
    elif key == "resolution":
        if text.isascii() and text.isdigit():
            if schema.RESOLUTION_MIN <= int(text) <= schema.RESOLUTION_MAX:
                return int(text)
    elif key == "country":
        if len(text) == 3 and text.isascii() and text.isalpha():
            try:
                return energy.validate_country(text)
            except ValueError:
                pass
    allowed = ALLOWED[key].format(models=", ".join(models))
    raise ValueError(f"{key}={_shown(text)} ignored: {key} must be {allowed}")


def parse_query(query: str, *, models: Iterable[str] | None = None) -> tuple[LinkConfig, list[str]]:
    """Read a URL query (with or without the leading ``?``) into a :class:`LinkConfig`.

    Never raises on what a visitor can type: every unknown parameter, bad value or
    repetition is one message in the returned list (naming what is allowed), and the
    valid parameters are kept. ``models`` are the names allowed for ``model`` (default:
    the zoo's).
    """
    models = tuple(zoo.names() if models is None else models)
    problems: list[str] = []
    query = query[1:] if query.startswith("?") else query
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        return LinkConfig(), [f"the link has more than {MAX_FIELDS} parameters; none applied"]
    given: dict[str, list[str]] = {}
    for key, value in pairs:
        given.setdefault(key, []).append(value)
    values: dict[str, Any] = {}
    for key, texts in given.items():
        if key in IGNORED:
            continue
        if key not in KEYS:
            problems.append(f"unknown parameter {_shown(key)} ignored; allowed: {', '.join(KEYS)}")
            continue
        if len(texts) > 1:
            problems.append(f"{key} is given {len(texts)} times; the last one is used")
        try:
            values[key] = _parse_value(key, texts[-1], models)
        except ValueError as exc:
            problems.append(str(exc))
    return LinkConfig(**values), problems


def _format_value(key: str, value: Any) -> str:
    if key == "sparsity":
        return repr(float(value))  # the shortest text that reads back as the same float
    if key == "bits" and value == OFF_BITS:
        return "off"
    return str(value)


def format_query(config: LinkConfig) -> str:
    """The URL query (without ``?``) of the parameters ``config`` gives, in :data:`KEYS` order.

    ``parse_query(format_query(c)) == (c, [])`` for every valid ``c``.
    """
    parts = []
    for field in fields(LinkConfig):
        value = getattr(config, field.name)
        if value is not None:
            parts.append(f"{field.name}={quote(_format_value(field.name, value), safe='')}")
    return "&".join(parts)


# ------------------------------------------------------------------ the dashboard side

_REQUEST: dict[str, str] = {}  # the visitor's query, once known (a kernel serves one page)


def request_query() -> str:
    """The query string of the page this kernel serves (``""`` outside Voilà).

    In a preheated Voilà kernel (``VOILA_PREHEAT=True``) this blocks until a visitor
    opens the page: Voilà then sends the request's variables, ``QUERY_STRING`` among them.
    """
    if "query" not in _REQUEST:
        if os.environ.get("VOILA_PREHEAT") == "True":
            _wait_for_voila_request()
        _REQUEST["query"] = os.environ.get("QUERY_STRING", "")
    return _REQUEST["query"]


def _wait_for_voila_request(attempts: int = REQUEST_ATTEMPTS) -> None:
    """Voilà's ``wait_for_request``, retried: it gives up (with a warning) when its websocket
    does not open within 5 s, as happens on a loaded machine, and then sets nothing."""
    import warnings

    from voila.utils import wait_for_request

    os.environ.pop("QUERY_STRING", None)  # a preheated kernel has no request yet
    for _ in range(attempts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                wait_for_request()
            except Exception:  # the connection failed: try again
                pass
        if "QUERY_STRING" in os.environ:
            return
        time.sleep(0.5)


def config_of(dashboard: Any) -> LinkConfig:
    """The configuration ``dashboard`` shows, every parameter given."""
    return LinkConfig(
        model=dashboard.model_picker.value,
        sparsity=float(dashboard.sparsity.value),
        structure=dashboard.sparsity.structure,
        bits=int(dashboard.bits.value),
        granularity=dashboard.bits.granularity,
        resolution=int(dashboard.resolution.value),
        country=dashboard.region.value,
    )


def link_config(dashboard: Any) -> LinkConfig:
    """:func:`config_of` without the parameters at their "off" position (a shorter link).

    ``model`` and ``country`` are always written; ``structure``/``granularity`` only when
    pruning/quantization is on and they differ from the sliders' defaults.
    """
    full = config_of(dashboard)
    pruning, quantizing = full.sparsity > 0, full.bits != OFF_BITS
    return replace(
        full,
        sparsity=full.sparsity if pruning else None,
        structure=full.structure if pruning and full.structure != STRUCTURES[0] else None,
        bits=full.bits if quantizing else None,
        granularity=full.granularity
        if quantizing and full.granularity != GRANULARITIES[0]
        else None,
        resolution=full.resolution if full.resolution != data.NATIVE_SIZE else None,
    )


def _percent(fraction: float) -> str:
    return f"{100 * fraction:g} %"


# a dashboard control (a key of Dashboard.problems) → the link parameters it sets
_CONTROL_PARTS = {
    "sparsity": ("sparsity", "structure"),
    "bits": ("bits", "granularity"),
    "resolution": ("resolution",),
}


def apply_config(dashboard: Any, config: LinkConfig) -> list[str]:
    """Set ``dashboard``'s public widgets to ``config``; return what could not be applied.

    The model first (it decides which resolutions exist), then the region and the
    sliders. A value the dashboard does not offer is skipped with a message naming what it
    offers; everything else is still applied.
    """
    problems: list[str] = []

    def attempt(key: str, setter) -> None:
        try:
            setter()
        except (t.TraitError, ValueError, TypeError) as exc:
            problems.append(f"{key} not applied: {exc}")

    if config.model is not None:
        offered = list(dashboard.model_picker.options)
        if config.model in offered:
            attempt("model", lambda: setattr(dashboard.model_picker, "value", config.model))
        else:
            problems.append(
                f"model={config.model!r} ignored: this dashboard offers {', '.join(offered)}"
            )
    if config.country is not None:
        attempt("country", lambda: setattr(dashboard.region, "value", config.country))
    disabled = dict(getattr(dashboard, "problems", {}))  # controls that do not apply here
    for key, parts in _CONTROL_PARTS.items():
        given = [p for p in parts if getattr(config, p) is not None]
        if given and key in disabled:
            problems.append(
                f"{', '.join(given)} ignored: not available for this model — {disabled[key]}"
            )
            config = replace(config, **dict.fromkeys(parts))
    if config.structure is not None:
        attempt("structure", lambda: setattr(dashboard.sparsity, "structure", config.structure))
    if config.granularity is not None:
        attempt("granularity", lambda: setattr(dashboard.bits, "granularity", config.granularity))
    if config.sparsity is not None:
        top = float(dashboard.sparsity.max_sparsity)
        if config.sparsity > top + 1e-9:
            problems.append(
                f"sparsity={config.sparsity:g} ignored: this dashboard prunes at most "
                f"{_percent(top)} (a fraction from 0 to {top:g})"
            )
        else:
            attempt("sparsity", lambda: setattr(dashboard.sparsity, "value", config.sparsity))
            shown = float(dashboard.sparsity.value)
            if abs(shown - config.sparsity) > 1e-9:
                problems.append(
                    f"sparsity={config.sparsity:g} rounded to {shown:g} "
                    f"(the slider moves in {_percent(dashboard.sparsity.step)} steps)"
                )
    if config.bits is not None:
        attempt("bits", lambda: setattr(dashboard.bits, "value", config.bits))
    if config.resolution is not None:
        sizes = tuple(dashboard.resolution.sizes)
        if config.resolution in sizes:
            attempt("resolution", lambda: setattr(dashboard.resolution, "value", config.resolution))
        else:
            problems.append(
                f"resolution={config.resolution} ignored: {dashboard.model_picker.value} runs "
                f"at {', '.join(map(str, sizes))} px"
            )
    return problems


# inline handlers resolve names against the element and document first: document.URL is a
# string, so the constructor is spelled window.URL
_COPY_JS = (
    "(function(b){var u=new window.URL(b.dataset.query,window.location.href).href;"
    "function done(){b.textContent='Copied ✓';b.dataset.copied=u;"
    "setTimeout(function(){b.textContent='Copy link'},2500)}"
    "function fallback(){var a=document.createElement('textarea');a.value=u;"
    "document.body.appendChild(a);a.select();var ok=false;"
    "try{ok=document.execCommand('copy')}catch(e){}a.remove();"
    "if(ok){done()}else{window.prompt('Copy this link:',u)}}"
    "if(navigator.clipboard&&window.isSecureContext){"
    "navigator.clipboard.writeText(u).then(done,fallback)}else{fallback()}})(this)"
)


class DeepLink(w.VBox):
    """The "link to this configuration" bar of a :class:`~widgets.Dashboard`.

    ``query`` (a traitlet) is the query of the dashboard's current configuration, updated
    as the sliders move; the bar shows it as a link and has a *Copy link* button.
    :meth:`apply_query` (or :meth:`apply_request`, for the page's own URL) sets the
    dashboard from a query and shows what could not be applied in ``problems``.
    """

    query = t.Unicode("")
    problems = t.List(t.Unicode())

    def __init__(self, dashboard: Any) -> None:
        self.dashboard = dashboard
        self.link = w.HTML()
        self.link.add_class("lab-link")
        self.message = w.HTML(layout={"display": "none"})
        self.message.add_class("lab-link-message")
        super().__init__([self.link, self.message])
        self.add_class("lab-deeplink")
        watched = (
            (dashboard.model_picker, "value"),
            (dashboard.region, "value"),
            (dashboard.sparsity, "value"),
            (dashboard.sparsity, "structure"),
            (dashboard.bits, "value"),
            (dashboard.bits, "granularity"),
            (dashboard.resolution, "value"),
        )
        for widget, name in watched:
            widget.observe(self._update, names=name)
        self._update()

    def apply_query(self, query: str) -> list[str]:
        """Set the dashboard from ``query``; return (and show) the problems, if any."""
        config, problems = parse_query(query, models=self.dashboard.model_picker.options)
        problems += apply_config(self.dashboard, config)
        self.problems = problems
        return problems

    def apply_request(self) -> list[str]:
        """:meth:`apply_query` with this page's own query (see :func:`request_query`)."""
        return self.apply_query(request_query())

    def _update(self, change: dict | None = None) -> None:
        self.query = format_query(link_config(self.dashboard))

    @t.observe("query")
    def _render_link(self, change: dict) -> None:
        href = html.escape("?" + self.query, quote=True)
        self.link.value = (
            "<span style='color:#555'>Link to this configuration:</span> "
            f"<a class='lab-link-href' href='{href}' title='open this configuration'>"
            f"<code class='lab-link-query'>{html.escape('?' + self.query)}</code></a> "
            f"<button type='button' class='lab-copy-link jupyter-button' data-query='{href}' "
            f'onclick="{html.escape(_COPY_JS, quote=True)}">Copy link</button>'
        )

    @t.observe("problems")
    def _render_problems(self, change: dict) -> None:
        if not self.problems:
            self.message.value = ""
            self.message.layout.display = "none"
            return
        items = "".join(f"<li>{html.escape(p)}</li>" for p in self.problems)
        self.message.value = (
            "<div style='color:#a15c00'>⚠ Some of the link's settings were not applied:"
            f"<ul style='margin:2px 0'>{items}</ul></div>"
        )
        self.message.layout.display = None
