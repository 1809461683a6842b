"""One line saying what the dashboard is doing: busy, done, or what went wrong (never a traceback).

Example:
    >>> line = StatusLine()
    >>> line.busy = True
    >>> "evaluating" in line.text.value
    True
    >>> line.show_error("bits must be 1-8")
    >>> line.error, line.busy
    ('bits must be 1-8', False)
"""

from __future__ import annotations

import html

import ipywidgets as w
import traitlets as t

__all__ = ["BUSY_HTML", "StatusLine", "render_feedback"]

ERROR_COLOR, NOTE_COLOR, WARNING_COLOR = "#b00020", "#555", "#a15c00"

# A CSS spinner, not an hourglass emoji (an empty box without an emoji font); still when the
# reader asked for reduced motion.
BUSY_HTML = (
    "<style>@keyframes lab-spin{to{transform:rotate(360deg)}}"
    ".lab-spinner{display:inline-block;width:0.8em;height:0.8em;margin-right:0.4em;"
    "vertical-align:-0.1em;border:2px solid #bbb;border-top-color:#555;border-radius:50%;"
    "animation:lab-spin 0.8s linear infinite}"
    "@media (prefers-reduced-motion:reduce){.lab-spinner{animation:none}}</style>"
    "<span class='lab-busy'><span class='lab-spinner' aria-hidden='true'></span>{what}…</span>"
)


def render_feedback(target: w.HTML, error: str = "", note: str = "") -> None:
    """Show ``error`` (red) or else ``note`` (grey) in ``target``; hide it when both are empty.

    The one look of "what happened to what you typed" next to an input box.

    Example:
        >>> box = w.HTML()
        >>> render_feedback(box, error="Pruning must be from 0 % to 95 %")
        >>> box.value, box.layout.display
        ("<span class='lab-error' style='color:#b00020'>⚠ Pruning must be from 0 % to 95 %</span>", None)
        >>> render_feedback(box); box.layout.display
        'none'
    """
    if error:
        target.value = (
            f"<span class='lab-error' style='color:{ERROR_COLOR}'>⚠ {html.escape(error)}</span>"
        )
    elif note:
        target.value = (
            f"<span class='lab-note' style='color:{NOTE_COLOR}'>{html.escape(note)}</span>"
        )
    else:
        target.value = ""
    target.layout.display = None if (error or note) else "none"


class StatusLine(w.HBox):
    """``busy`` shows a spinner and ``busy_text`` ("evaluating…"); ``message`` a note;
    ``error`` a red message."""

    busy = t.Bool(False)
    busy_text = t.Unicode("evaluating")  # what the spinner waits for
    message = t.Unicode("")
    error = t.Unicode("")
    warning = t.Unicode("")

    def __init__(self) -> None:
        self.text = w.HTML("")
        self.text.add_class("lab-status")
        super().__init__([self.text], layout={"min_height": "24px"})
        self.add_class("lab-status-line")

    def show_error(self, message: str) -> None:
        """Show ``message`` in red and stop the busy indicator."""
        with self.hold_trait_notifications():
            self.busy = False
            self.error = message

    def show_message(self, message: str) -> None:
        """Show a neutral ``message`` and clear any error."""
        with self.hold_trait_notifications():
            self.error = ""
            self.message = message

    @t.observe("busy", "busy_text", "message", "error", "warning")
    def _render(self, change: dict | None = None) -> None:
        parts = []
        if self.busy:
            parts.append(BUSY_HTML.replace("{what}", html.escape(self.busy_text)))
        if self.error:
            parts.append(
                f"<span class='lab-error' style='color:{ERROR_COLOR}'>⚠ {html.escape(self.error)}</span>"
            )
        elif self.message and not self.busy:
            parts.append(f"<span style='color:{NOTE_COLOR}'>{html.escape(self.message)}</span>")
        if self.warning:
            parts.append(
                f"<span class='lab-warning' style='color:{WARNING_COLOR}'>{html.escape(self.warning)}</span>"
            )
        self.text.value = " &nbsp; ".join(parts)
