"""Watch a search (``lab.search``) live: its trials, its frontier, and the model you pick from it.

One cell runs the search (or a background thread does), another shows it::

    result = lab.search.search(SearchSpace.tiny(), n_trials=20, study="mine")
    SearchView(result)                                  # or SearchView("mine") while it runs

What it shows: every finished trial as accuracy vs artifact bytes (log x), the study's
frontier (:meth:`lab.search.SearchResult.frontier`: feasible, non-dominated trials)
highlighted, a counts line, and a trial picker (frontier first) with the chosen trial's
recipe and validation measurement. "Measure on test" measures its **test** accuracy,
once per trial (val chooses; test reports); "Export" writes its artifact, recipe JSON and
model card into a folder.

Live: :meth:`SearchView.refresh` re-reads the study; :meth:`SearchView.watch` polls it on a
daemon thread until :meth:`SearchView.stop`. Nothing here raises into the kernel: a failure
becomes a message in the widget.

Example:
    >>> view = SearchView("my-study", storage="sqlite:///study.sqlite")  # doctest: +SKIP
    >>> view.watch(interval=2.0)  # doctest: +SKIP
    >>> view.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import math
import threading
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd
import traitlets as t

from lab.decide.pareto import pareto_front
from lab.decide.plot_style import FONT_SIZES, style_axes
from lab.evaluation import quality

from .figure import FigureView, fit_axes
from .units import format_bytes, format_si

__all__ = ["SearchView"]

DEFAULT_OBJECTIVES = ("val_accuracy", "artifact_bytes")
NO_SELECTION = -1  # the picker's value when nothing is chosen


def _safe(name: str) -> str:
    """The folder name ``lab.search`` gives a study's models (different for different names)."""
    from lab.decide.search import study_folder_name

    return study_folder_name(name)


def _hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses: show it as given
        return url


def _percent(value: Any) -> str:
    return "n/a" if _missing(value) else f"{100 * float(value):.1f}%"


def _flops(row: dict) -> float | None:
    """FLOPs per image of a trial row (2 × MACs when only MACs were recorded)."""
    flops, macs = _number(row.get("flops")), _number(row.get("macs"))
    return flops if flops is not None else None if macs is None else 2 * macs


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _short_bytes(n: Any) -> str:
    return "n/a" if _missing(n) else format_bytes(int(n))


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    for tail in ("\n[SQL:", "\n(Background on this error"):  # SQLAlchemy's extra lines
        text = text.split(tail)[0].strip()
    if isinstance(exc, KeyError):  # str(KeyError) quotes its argument
        text = f"missing {text}"
    return text


class SearchView(w.VBox):
    """Trials of a :func:`lab.search.search` study on a Pareto plot, live, with a trial picker.

    Args:
        result_or_study: a :class:`lab.search.SearchResult`, or a study's name (then
            ``storage``, ``objectives`` and ``models_dir`` say where it is; the defaults are
            those of :func:`lab.search.search`: the lab's SQLite store, accuracy vs bytes).
        storage: the study's SQLAlchemy URL (only with a study name).
        objectives: the study's objectives, in its order (only with a study name).
        models_dir: where the trials' artifacts are (only with a study name; default the
            lab's cache, as :func:`lab.search.search` writes them).
        refresh: read the study now (default True).

    Public state: ``trials`` and ``frontier`` (the DataFrames last read), traitlets
    ``selected`` (trial number, or None), ``n_trials``, ``n_finished``, ``n_stopped``,
    ``n_frontier``, ``message`` and ``error`` (what the status line says), and
    :attr:`data` (what the plot draws).
    """

    selected = t.Int(None, allow_none=True)
    n_trials = t.Int(0)
    n_finished = t.Int(0)
    n_stopped = t.Int(0)
    n_frontier = t.Int(0)
    message = t.Unicode("")
    error = t.Unicode("")

    def __init__(
        self,
        result_or_study: Any,
        *,
        storage: str | None = None,
        objectives: tuple[str, ...] | None = None,
        models_dir: str | Path | None = None,
        refresh: bool = True,
    ) -> None:
        self._stop = threading.Event()  # before any refusal: close() (from __del__) reads them
        self._watcher: threading.Thread | None = None
        if not isinstance(refresh, bool):
            raise TypeError(f"refresh must be True or False; got {refresh!r}")
        self.result = self._as_result(result_or_study, storage, objectives, models_dir)
        self.trials = pd.DataFrame()
        self.frontier = pd.DataFrame()
        self.test_accuracies: dict[int, float] = {}  # measured in this view, once per trial
        self.polls = 0  # refreshes done by the watch thread
        self._signature: tuple | None = None
        self._lock = threading.RLock()  # the figure and the widgets, between the threads
        self._action: threading.Thread | None = None
        self._updating_picker = False
        self._read_problem = False
        self._schema_seen = False  # optuna's tables exist in the storage (see _storage_ready)
        self._study: Any = None  # the study as the watch thread polls it
        self._drawn: dict[str, Any] = {"numbers": [], "front_numbers": []}

        self.title = w.HTML(self._title())
        self.counts = w.HTML("")
        self.counts.add_class("lab-search-counts")
        self.status = w.HTML("")
        self.status.add_class("lab-search-status")
        self.view = FigureView((5.6, 3.6))
        self._build_plot()
        self.picker = w.Dropdown(
            options=[("(no finished trial yet)", NO_SELECTION)],
            value=NO_SELECTION,
            description="Trial",
            layout={"width": "360px"},
        )
        self.picker.add_class("lab-search-picker")
        self.details = w.HTML("")
        self.details.add_class("lab-search-details")
        self.test_button = w.Button(
            description="Measure on test",
            tooltip="test accuracy of this trial's model, measured once (val chose it)",
            disabled=True,
            layout={"width": "160px"},
        )
        self.test_label = w.HTML("")
        self.folder = w.Text(
            value="",
            placeholder="folder (default: exports/<study>-trial-<n>)",
            layout={"width": "250px"},
        )
        self.export_button = w.Button(
            description="Export",
            tooltip="write model.lab, recipe.json and model_card.json into the folder",
            disabled=True,
            layout={"width": "100px"},
        )
        panel = w.VBox(
            [
                self.picker,
                self.details,
                w.HBox([self.test_button, self.test_label]),
                w.HBox([self.folder, self.export_button]),
            ],
            layout={"width": "440px"},
        )
        row = {"flex_flow": "row wrap", "grid_gap": "8px 24px", "align_items": "flex-start"}
        super().__init__(
            [self.title, self.counts, self.status, w.HBox([self.view.widget, panel], layout=row)],
            layout={"padding": "4px"},
        )
        self.add_class("lab-search-view")
        self.picker.observe(self._picked_in_dropdown, names="value")
        self.test_button.on_click(lambda _: self._in_background(self.measure_test))
        self.export_button.on_click(lambda _: self._in_background(self.export))
        self._show_counts()
        if refresh:
            self.refresh()

    # ---------------------------------------------------------------- public API
    def refresh(self) -> bool:
        """Re-read the study and redraw; True when it could be read (never raises)."""
        return self._refresh(force=True)

    def watch(self, interval: float = 2.0) -> None:
        """Re-read the study every ``interval`` s on a daemon thread, until :meth:`stop`."""
        try:
            interval = float(interval)
            if not (math.isfinite(interval) and interval > 0):
                raise ValueError(f"interval must be a number of seconds > 0; got {interval!r}")
        except (TypeError, ValueError) as exc:
            self._show_error(f"Cannot watch: {_message(exc)}")
            return
        self.stop()
        self._stop = stop = threading.Event()

        def loop() -> None:
            while True:
                try:
                    self._refresh(force=False)
                    self.polls += 1
                except Exception as exc:  # never let the thread die with a traceback
                    self._show_error(f"Could not refresh: {_message(exc)}")
                if stop.wait(interval):
                    return

        self._watcher = threading.Thread(target=loop, name="lab-search-watch", daemon=True)
        self._watcher.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop watching; True when the watch thread has ended (or none was running)."""
        self._stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout)
            if watcher.is_alive():
                self._watcher = watcher
                return False
        return True

    @property
    def watching(self) -> bool:
        """True while the watch thread runs."""
        return self._watcher is not None and self._watcher.is_alive()

    def select(self, number: int | None) -> None:
        """Choose trial ``number`` (as the dropdown does); None clears the choice."""
        value = NO_SELECTION if number is None else int(number)
        if value not in [v for _, v in self.picker.options]:
            self._show_error(f"Trial {number} is not among the finished trials shown")
            return
        self.picker.value = value

    def measure_test(self, number: int | None = None) -> float | None:
        """Test accuracy of trial ``number`` (default: the chosen one), measured once per trial.

        Returns None (and shows why) when it cannot be measured.
        """
        number = self.selected if number is None else int(number)
        if number is None:
            self._show_error("Choose a trial first")
            return None
        if number in self.test_accuracies:  # once per trial: test reports, it never chooses
            accuracy = self.test_accuracies[number]
            self._show_message(
                f"Trial #{number}: test accuracy {_percent(accuracy)} (measured once, not again)"
            )
            with self._lock:
                self._show_details()
            return accuracy
        if not self._finished(number):
            self._show_error(f"Trial #{number} has no model to measure (not finished)")
            return None
        self._show_message(f"Measuring trial #{number} on the test split…")
        try:
            accuracy = float(self.result.test_accuracy(number))
        except Exception as exc:
            self._show_error(f"Could not measure trial #{number} on test: {_message(exc)}")
            return None
        self.test_accuracies[number] = accuracy
        self._show_message(f"Trial #{number}: test accuracy {_percent(accuracy)} (measured once)")
        with self._lock:
            self._show_details()
        return accuracy

    def export(self, folder: str | Path | None = None, number: int | None = None) -> Path | None:
        """Write trial ``number``'s artifact, recipe JSON and model card into ``folder``.

        ``folder`` defaults to the text box, else ``exports/<study>-trial-<n>``. Returns the
        folder (absolute), or None (and shows why) when it fails.
        """
        number = self.selected if number is None else int(number)
        if number is None:
            self._show_error("Choose a trial first")
            return None
        if folder is None:
            folder = self.folder.value.strip() or self.default_folder(number)
        try:
            target = Path(folder).expanduser()
            written = Path(self.result.export(number, target)).resolve()
            size = (written / "model.lab").stat().st_size
        except Exception as exc:
            self._show_error(f"Could not export trial #{number} to {folder}: {_message(exc)}")
            return None
        self._show_message(
            f"Exported trial #{number} to {written}: model.lab ({_short_bytes(size)}), "
            "recipe.json, model_card.json"
        )
        return written

    def default_folder(self, number: int) -> Path:
        return Path("exports") / f"{_safe(self.result.study_name)}-trial-{number}"

    def wait(self, timeout: float | None = 120) -> bool:
        """Block until a button's action (test measurement, export) is done; False on timeout."""
        action = self._action
        if action is not None:
            action.join(timeout)
            return not action.is_alive()
        return True

    @property
    def data(self) -> dict[str, Any]:
        """What the plot draws: ``numbers``, ``x`` (bytes), ``y`` (accuracy, %) of the finished
        trials; ``front_numbers`` and ``front`` (k×2) of the frontier; ``selected`` ((x, y))."""
        with self._lock:
            offsets = np.concatenate(
                [
                    np.asarray(self._feasible.get_offsets(), dtype=float).reshape(-1, 2),
                    np.asarray(self._infeasible.get_offsets(), dtype=float).reshape(-1, 2),
                ]
            )
            front = np.asarray(self._front_points.get_offsets(), dtype=float).reshape(-1, 2)
            sx, sy = self._highlight.get_data()
            return {
                "numbers": list(self._drawn["numbers"]),
                "x": offsets[:, 0],
                "y": offsets[:, 1],
                "front_numbers": list(self._drawn["front_numbers"]),
                "front": front,
                "selected": (float(sx[0]), float(sy[0])) if len(sx) else None,
            }

    def close(self) -> None:
        """Stop watching and close the widget."""
        self.stop()
        super().close()

    # ---------------------------------------------------------------- reading the study
    @staticmethod
    def _as_result(source: Any, storage: Any, objectives: Any, models_dir: Any) -> Any:
        from lab.decide.search import SearchResult

        if isinstance(source, SearchResult):
            if storage is not None or objectives is not None or models_dir is not None:
                raise TypeError("storage, objectives and models_dir go with a study name only")
            return source
        from lab.decide.search import OBJECTIVES, trial_models_dir
        from lab.decide.search_inputs import check_objectives, check_storage_url, check_study_name

        if not isinstance(source, str):
            raise TypeError(
                "result_or_study must be a lab.search.SearchResult or a study's name; "
                f"got {type(source).__name__}"
            )
        check_study_name(source)  # the words search() uses for the same name
        if storage is None:
            from lab.io.store import default_store

            storage = default_store().url
        storage = check_storage_url(storage)
        if models_dir is None:
            models_dir = trial_models_dir(source, storage)
        elif not isinstance(models_dir, (str, Path)):
            raise TypeError(
                f"models_dir must be a folder (a str or Path) or None; got "
                f"{type(models_dir).__name__}"
            )
        objectives = check_objectives(
            DEFAULT_OBJECTIVES if objectives is None else objectives, tuple(OBJECTIVES)
        )
        return SearchResult(source, storage, objectives, str(models_dir))

    def _title(self) -> str:
        r = self.result
        return (
            f"<b>Search</b> “{html.escape(r.study_name)}” · {html.escape(' vs '.join(r.objectives))}"
            f" · <span style='color:#777'>{html.escape(_hide_password(r.storage))}</span>"
        )

    def _storage_ready(self) -> bool:
        """Whether Optuna has finished creating its tables in the storage (checked until it has).

        Reading through ``optuna`` would otherwise create them — racing the search that is
        creating them at the same moment in a fresh database ("table already exists").
        """
        if self._schema_seen:
            return True
        from sqlalchemy import create_engine, inspect, text
        from sqlalchemy.engine import make_url

        url = make_url(self.result.storage)
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            if database in ("", ":memory:") or database.startswith("file:"):
                self._schema_seen = True
                return True
            if not Path(database).is_file():
                return False
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                if not inspect(connection).has_table("alembic_version"):
                    return False  # optuna stamps this table last, once every table is there
                stamped = connection.execute(text("SELECT COUNT(*) FROM alembic_version"))
                if not stamped.scalar():
                    return False
        finally:
            engine.dispose()
        self._schema_seen = True
        return True

    def _poll_signature(self) -> tuple:
        """(number, state) of every trial, read cheaply: one study object kept between polls.

        Optuna's cached storage re-reads only unfinished and new trials, so a poll stays
        light (it runs beside the search's own latency measurements when both share a
        process).
        """
        if self._study is None:
            import optuna

            url = self.result.storage
            kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
            storage = optuna.storages.RDBStorage(
                url, engine_kwargs=kwargs, skip_table_creation=True, skip_compatibility_check=True
            )
            self._study = optuna.load_study(study_name=self.result.study_name, storage=storage)
        trials = self._study.get_trials(deepcopy=False)
        return tuple((t.number, t.state.name) for t in trials)

    def _waiting(self) -> bool:
        self._read_problem = True
        self._show_message(
            f"No study “{self.result.study_name}” in this storage yet: waiting for its first trial."
        )
        return False

    def _refresh(self, force: bool) -> bool:
        try:
            if not self._storage_ready():
                return self._waiting()
            signature = None
            if not force:  # a poll: read the full frame only when a trial came or changed state
                signature = self._poll_signature()
                if signature == self._signature:
                    return True
            frame = self.result.trials_frame()
        except KeyError:  # optuna: "Record does not exist" — not created yet
            return self._waiting()
        except Exception as exc:
            self._read_problem = True
            self._show_error(f"Could not read the study: {self._explain(exc)}")
            return False
        if signature is None:
            signature = self._signature_of(frame)
        try:
            finished = self._column(frame, "state") == "COMPLETE"
            front = self.result.frontier() if finished.any() else pd.DataFrame()
        except Exception as exc:
            self._read_problem = True
            self._show_error(f"Could not compute the frontier: {_message(exc)}")
            return False
        with self._lock:
            self.trials, self.frontier = frame, front
            try:
                self._show_counts()
                self._update_picker()
                self._redraw()
                self._show_details()
            except Exception as exc:
                self._signature = None  # try again on the next poll
                self._read_problem = True
                self._show_error(f"Could not show the study: {_message(exc)}")
                return False
            self._signature = signature
        if self._read_problem:  # the study reads again: clear what was said about it
            self._read_problem = False
            self._show_message("")
        return True

    def _explain(self, exc: BaseException) -> str:
        """``exc`` as a sentence; a wrong ``objectives`` count is said as such."""
        try:
            directions = len(self.result.study().directions)
        except Exception:
            return _message(exc)
        if directions != len(self.result.objectives):
            return (
                f"the study has {directions} objectives, this view was given "
                f"{len(self.result.objectives)} ({', '.join(self.result.objectives)}): pass "
                "objectives= in the study's order"
            )
        return _message(exc)

    @staticmethod
    def _column(frame: pd.DataFrame, name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series([None] * len(frame), dtype=object)

    def _signature_of(self, frame: pd.DataFrame) -> tuple:
        numbers = self._column(frame, "number").tolist()
        states = self._column(frame, "state").tolist()
        return tuple(zip(numbers, states, strict=True))

    def _finished(self, number: int) -> bool:
        row = self._row(number)
        return row is not None and row.get("state") == "COMPLETE"

    def _row(self, number: int | None) -> dict | None:
        if number is None or self.trials.empty:
            return None
        rows = self.trials[self.trials["number"] == number]
        return None if rows.empty else rows.iloc[0].to_dict()

    def _complete(self) -> pd.DataFrame:
        frame = self.trials
        if frame.empty or "state" not in frame:
            return frame.iloc[0:0]
        done = frame[frame["state"] == "COMPLETE"]
        column = self._quality()[0]
        if column not in done:
            return done.iloc[0:0]
        return done[done["artifact_bytes"].notna() & done[column].notna()]

    def _quality(self) -> tuple[str, quality.Metric]:
        """The trials' column the plot's y axis shows, and its metric: the study's quality
        objective (``val_macro_f1``…), or accuracy when it optimises accuracy or none."""
        from lab.decide.search import OBJECTIVES

        for name in self.result.objectives:
            metric = OBJECTIVES.get(name, (None, None))[1]
            if name.startswith("val_") and metric in quality.METRICS and metric != "accuracy":
                return name, quality.METRICS[metric]
        return "accuracy", quality.METRICS["accuracy"]

    def _shown(self, value: Any) -> str:
        """A value of the plotted metric: ``91.2%``, ``43.1``."""
        entry = self._quality()[1]
        if _missing(value):
            return "n/a"
        return _percent(value) if entry.unit == "fraction" else entry.format(float(value))

    # ---------------------------------------------------------------- showing it
    def _show_counts(self) -> None:
        frame = self.trials
        states = self._column(frame, "state")
        self.n_trials = len(frame)
        self.n_finished = int((states == "COMPLETE").sum())
        self.n_stopped = int((states == "PRUNED").sum())
        self.n_frontier = len(self.frontier)
        text = (
            f"{self.n_trials} trials ({self.n_finished} finished, {self.n_stopped} stopped early)"
            f" · frontier {self.n_frontier}"
        )
        extra = [
            f"{int((states == state).sum())} {word}"
            for state, word in (("RUNNING", "running"), ("FAIL", "failed"))
            if (states == state).any()
        ]
        if extra:
            text += " · " + ", ".join(extra)
        self.counts.value = f"<span class='lab-search-count'>{html.escape(text)}</span>"

    def _label(self, row: dict, on_front: bool) -> str:
        number = int(row["number"])
        if row.get("state") == "PRUNED":
            return f"#{number} · stopped early"
        star = "★ " if on_front else ""
        infeasible = "" if row.get("feasible", True) else " · over a constraint"
        return (
            f"{star}#{number} · {self._shown(row.get(self._quality()[0]))} · "
            f"{_short_bytes(row.get('artifact_bytes'))}{infeasible}"
        )

    def _update_picker(self) -> None:
        front_numbers = [int(n) for n in self._column(self.frontier, "number")]
        rows = (
            {int(r["number"]): r for r in self.trials.to_dict("records")}
            if len(self.trials)
            else {}
        )
        options = [(self._label(rows[n], True), n) for n in front_numbers if n in rows]
        in_front = set(front_numbers)
        for state in ("COMPLETE", "PRUNED"):
            options += [
                (self._label(row, False), n)
                for n, row in sorted(rows.items())
                if row.get("state") == state and n not in in_front
            ]
        if not options:
            options = [("(no finished trial yet)", NO_SELECTION)]
        values = [v for _, v in options]
        current = self.selected if self.selected in values else None
        if current is None:  # choose the first frontier trial, once there is one
            current = options[0][1] if options[0][1] != NO_SELECTION else None
        self._updating_picker = True
        try:
            self.picker.options = options
            self.picker.value = NO_SELECTION if current is None else current
        finally:
            self._updating_picker = False
        self.selected = current

    def _picked_in_dropdown(self, change: dict) -> None:
        if self._updating_picker:
            return
        with self._lock:
            value = change["new"]
            self.selected = None if value in (None, NO_SELECTION) else int(value)
            try:
                self._show_details()
                self._draw_selection()
                self.view.redraw()
            except Exception as exc:
                self._show_error(f"Could not show trial {value}: {_message(exc)}")

    def _picked_on_plot(self, event: Any) -> None:
        """A click on a point of the plot (ipympl) chooses its trial."""
        try:
            artists = {
                id(self._feasible): "feasible",
                id(self._infeasible): "infeasible",
                id(self._front_points): "front_numbers",
            }
            numbers = self._drawn.get(artists.get(id(event.artist), ""), [])
            if len(event.ind) and numbers:
                self.select(numbers[int(event.ind[0])])
        except Exception as exc:
            self._show_error(f"Could not choose that point: {_message(exc)}")

    def _show_details(self) -> None:
        number = self.selected
        row = self._row(number)
        if row is None:
            self.details.value = "<i>Choose a trial to see its recipe and measurement.</i>"
            self.test_button.disabled = self.export_button.disabled = True
            self.test_label.value = ""
            return
        finished = row.get("state") == "COMPLETE"
        self.test_button.disabled = not finished or number in self.test_accuracies
        self.export_button.disabled = not finished
        self.test_label.value = (
            f"test accuracy <b class='lab-search-test'>{_percent(self.test_accuracies[number])}</b>"
            if number in self.test_accuracies
            else ""
        )
        parts = [f"<b>Trial #{number}</b> · {html.escape(str(row.get('state', '')).lower())}"]
        recipe_json = row.get("recipe")
        try:
            from lab.techniques.configs import Recipe

            recipe = Recipe.from_json(recipe_json)
            pretty = json.dumps(json.loads(recipe.to_json()), indent=1)
            parts.append(
                f"Recipe: <b class='lab-search-recipe'>{html.escape(recipe.describe())}</b>"
            )
        except Exception:
            pretty = str(recipe_json)
            parts.append("Recipe: <i>not recorded</i>")
        arch = row.get("architecture")
        training = ", ".join(
            f"{key} {row[f'param_{key}']:.3g}"
            for key in ("epochs", "lr")
            if isinstance(row.get(f"param_{key}"), (int, float))
            and not _missing(row.get(f"param_{key}"))
        )
        parts.append(
            f"Network: <code>{html.escape(str(arch))}</code>"
            + (f" · trained {html.escape(training)}" if training else "")
        )
        if finished:
            measured = [
                ("val accuracy", _percent(row.get("accuracy"))),
                *(
                    [(f"val {self._quality()[1].words}", self._shown(row.get(self._quality()[0])))]
                    if self._quality()[0] != "accuracy"
                    else []
                ),
                ("size", _short_bytes(row.get("artifact_bytes"))),
                ("FLOPs", format_si(_flops(row), "FLOPs")),  # as every view names them
                ("latency p50", _latency(row.get("latency_ms_p50"))),
            ]
            if not row.get("feasible", True):
                measured.append(("constraint", "violated: never on the frontier"))
            parts.append(
                "<table class='lab-search-measurement'>"
                + "".join(
                    f"<tr><td style='padding-right:12px'>{k}</td><td><b>{v}</b></td></tr>"
                    for k, v in measured
                )
                + "</table>"
            )
        elif row.get("state") == "PRUNED":
            parts.append(
                "<i>Stopped early: after a fraction of its epochs its val accuracy was below the "
                "median of the others (no model kept).</i>"
            )
        parts.append(
            "<details><summary>Recipe JSON</summary>"
            f"<pre style='font-size:11px;line-height:1.2'>{html.escape(pretty)}</pre></details>"
        )
        self.details.value = "<br>".join(parts[:-1]) + parts[-1]

    def _show_message(self, text: str) -> None:
        with self.hold_trait_notifications():
            self.error = ""
            self.message = text
        self.status.value = f"<span style='color:#555'>{html.escape(text)}</span>" if text else ""

    def _show_error(self, text: str) -> None:
        with self.hold_trait_notifications():
            self.error = text
            self.message = ""
        self.status.value = (
            f"<span class='lab-error' style='color:#b00020'>⚠ {html.escape(text)}</span>"
        )

    def _in_background(self, action: Any) -> None:
        """Run a button's action on a thread (the kernel stays free); one at a time."""
        if self._action is not None and self._action.is_alive():
            self._show_message("Busy with the previous action; wait for it to finish.")
            return

        def run() -> None:
            try:
                action()
            except Exception as exc:  # the actions catch their own errors; belt and braces
                self._show_error(_message(exc))

        self._action = threading.Thread(target=run, name="lab-search-action", daemon=True)
        self._action.start()

    # ---------------------------------------------------------------- the plot
    def _build_plot(self) -> None:
        ax = self.ax = self.view.figure.subplots()
        self._feasible = ax.scatter(
            [], [], s=26, color="#8da0cb", alpha=0.85, zorder=2, label="trials", picker=True
        )
        self._infeasible = ax.scatter(
            [],
            [],
            s=26,
            marker="x",
            color="#999999",
            zorder=2,
            label="over a constraint",
            picker=True,
        )
        (self._front_line,) = ax.plot(
            [], [], drawstyle="steps-post", color="#e5883e", lw=1.5, zorder=1
        )
        self._front_points = ax.scatter(
            [],
            [],
            s=44,
            color="#e5883e",
            edgecolors="black",
            linewidths=0.6,
            zorder=3,
            label="frontier",
            picker=True,
        )
        (self._highlight,) = ax.plot(
            [],
            [],
            marker="*",
            ms=16,
            ls="none",
            color="#d62728",
            markeredgecolor="black",
            zorder=4,
            label="chosen",
        )
        ax.set_xscale("log")
        ax.set_ylabel(f"val {self._quality()[1].axis_text}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="lower right", fontsize=FONT_SIZES["legend"], framealpha=0.7)
        ax.set_title("no finished trial yet")
        self._rescale(np.empty(0), np.empty(0))
        try:
            self.view.figure.canvas.mpl_connect("pick_event", self._picked_on_plot)
        except Exception:  # a canvas without events (PNG fallback): the dropdown is enough
            pass
        self.view.redraw()

    def _redraw(self) -> None:
        done = self._complete()
        for name, artist in (("feasible", self._feasible), ("infeasible", self._infeasible)):
            if done.empty:
                rows = done
            else:
                feasible = done["feasible"].astype(bool)
                rows = done[feasible if name == "feasible" else ~feasible]
            artist.set_offsets(self._xy(rows))
            self._drawn[name] = [int(n) for n in self._column(rows, "number")]
        self._drawn["numbers"] = self._drawn["feasible"] + self._drawn["infeasible"]
        front = self.frontier
        front_xy = self._xy(front)
        self._front_points.set_offsets(front_xy)
        self._drawn["front_numbers"] = [int(n) for n in self._column(front, "number")]
        maximize = self._quality()[1].higher_is_better
        line = pareto_front([tuple(p) for p in front_xy], maximize_y=maximize)  # its staircase
        self._front_line.set_data(front_xy[line, 0], front_xy[line, 1])
        xy = self._xy(done)
        self._rescale(xy[:, 0], xy[:, 1])
        self.ax.set_title(
            f"{len(done)} finished trials, {len(front)} on the frontier"
            if len(done)
            else "no finished trial yet"
        )
        self._draw_selection()
        self.view.redraw()

    def _draw_selection(self) -> None:
        row = self._row(self.selected)
        column, entry = self._quality()
        if row is None or row.get("state") != "COMPLETE" or _missing(row.get(column)):
            self._highlight.set_data([], [])
            return
        scale = 100 if entry.unit == "fraction" else 1
        self._highlight.set_data([float(row["artifact_bytes"])], [scale * float(row[column])])

    def _xy(self, rows: pd.DataFrame) -> np.ndarray:
        """(bytes, the plotted metric: % for fractions) of each row."""
        if rows.empty:
            return np.empty((0, 2))
        column, entry = self._quality()
        x = rows["artifact_bytes"].astype(float).to_numpy()
        y = (100 if entry.unit == "fraction" else 1) * rows[column].astype(float).to_numpy()
        return np.column_stack([x, y])

    def _rescale(self, xs: np.ndarray, ys: np.ndarray) -> None:
        percent = self._quality()[1].unit == "fraction"
        fit_axes(self.ax, xs, ys, empty_x=(100, 100_000), percent=percent)
        style_axes(self.ax, "size")  # the dashboard's look: fonts, "10 kB" ticks, axis label


def _number(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def _latency(value: Any) -> str:
    return "n/a" if _missing(value) else f"{float(value):.2f} ms (batch 1)"
