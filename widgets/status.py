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

__all__ = ["StatusLine"]


class StatusLine(w.HBox):
    """``busy`` shows a "⏳ evaluating…" indicator; ``message`` a note; ``error`` a red message."""

    busy = t.Bool(False)
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

    @t.observe("busy", "message", "error", "warning")
    def _render(self, change: dict | None = None) -> None:
        parts = []
        if self.busy:
            parts.append("<span class='lab-busy'>⏳ evaluating…</span>")
        if self.error:
            parts.append(
                f"<span class='lab-error' style='color:#b00020'>⚠ {html.escape(self.error)}</span>"
            )
        elif self.message and not self.busy:
            parts.append(f"<span style='color:#555'>{html.escape(self.message)}</span>")
        if self.warning:
            parts.append(
                f"<span class='lab-warning' style='color:#a15c00'>{html.escape(self.warning)}</span>"
            )
        self.text.value = " &nbsp; ".join(parts)
