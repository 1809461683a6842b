"""What :func:`lab.search.search` and ``python -m lab search`` accept, checked up front.

Every check raises a :class:`~lab.techniques.configs.ConfigError` (a ``ValueError``)
whose message starts with the argument's name and says what is allowed, so that the
command line can print it as one line. Storage problems — a string that is not an
SQLAlchemy URL, a dialect or driver that is not installed, an in-memory SQLite database,
a folder that does not exist, a server that does not answer — are a
:class:`StorageError` instead of SQLAlchemy's tracebacks; passwords are never repeated.

Example:
    >>> check_study_name("fashion-small")
    'fashion-small'
    >>> check_storage_url("sqlite://")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    StorageError: storage 'sqlite://' is an in-memory SQLite database: ...
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lab.techniques.configs import ConfigError

__all__ = [
    "MAX_STUDY_NAME",
    "Constraint",
    "StorageError",
    "check_constraints",
    "check_bounded",
    "check_objectives",
    "check_seed",
    "check_storage_url",
    "check_study_name",
    "open_storage",
    "parse_constraint",
    "shown_url",
    "storage_key",
]

MAX_STUDY_NAME = 512  # Optuna's study_name column (VARCHAR(512))
MAX_SEED = 2**31 - 1  # NumPy seeds are < 2**32; workers add their offsets to it
POSTGRES_CONNECT_TIMEOUT_S = 15  # an unreachable server is reported, not waited on for minutes
_URL_FORM = (
    "an SQLAlchemy URL such as sqlite:////absolute/path/study.db or "
    "postgresql+psycopg://user:password@host/database"
)


class StorageError(ConfigError):
    """The search's ``storage`` cannot be used; the message says why and what is allowed."""


def _hidden(text: str) -> str:
    """``text`` with any ``//user:password@`` password replaced by ``***``, shortened."""
    text = re.sub(r"(//[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    return repr(text if len(text) <= 80 else text[:80] + "…")


def shown_url(url: str) -> str:
    """The URL as it may be shown: its password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return repr(make_url(url).render_as_string(hide_password=True))
    except Exception:  # noqa: BLE001 - not a URL: hide what looks like a password
        return _hidden(url)


def check_study_name(study: object) -> str:
    """A study name: a non-empty string of at most 512 characters, not only spaces."""
    if not isinstance(study, str):
        raise ConfigError(
            f"study must be a name (a non-empty string); got {study!r} ({type(study).__name__})"
        )
    if not study.strip():
        raise ConfigError(
            f"study must be a non-empty name (an empty one would share the default study's "
            f"trial files); got {study!r}"
        )
    if len(study) > MAX_STUDY_NAME:
        raise ConfigError(
            f"study must be at most {MAX_STUDY_NAME} characters (Optuna's limit); got {len(study)}"
        )
    return study


def check_seed(seed: object) -> int:
    """An integer from 0 to 2**31 − 1 (NumPy's samplers refuse negative seeds)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError(f"seed must be an integer from 0 to {MAX_SEED}; got {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ConfigError(f"seed must be an integer from 0 to {MAX_SEED}; got {seed!r}")
    return int(seed)


def check_objectives(objectives: object, allowed: Sequence[str]) -> tuple[str, ...]:
    """Two or more distinct names from ``allowed`` (a list or tuple: one string, which would
    be read letter by letter, is refused), as a tuple."""
    if isinstance(objectives, (str, bytes)) or not isinstance(objectives, Sequence):
        raise ConfigError(
            f"objectives must be a list of two or more names from {', '.join(allowed)}; "
            f"got {objectives!r}"
        )
    objectives = tuple(objectives)
    unknown = [o for o in objectives if not isinstance(o, str) or o not in allowed]
    if unknown or len(objectives) < 2 or len(set(objectives)) != len(objectives):
        raise ConfigError(
            f"objectives must be two or more distinct names from {', '.join(allowed)}; "
            f"got {list(objectives)}"
        )
    return objectives


def check_bounded(n_trials: object, timeout: object) -> tuple[int | None, float | None]:
    """``n_trials`` (a positive integer or None) and ``timeout`` (seconds: a finite number
    > 0, or None); at least one of them given."""
    if n_trials is not None:
        if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral):
            raise ConfigError(
                f"n_trials must be a positive integer or None; got {n_trials!r} "
                f"({type(n_trials).__name__})"
            )
        if n_trials < 1:
            raise ConfigError(f"n_trials must be a positive integer or None; got {n_trials!r}")
        n_trials = int(n_trials)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
            raise ConfigError(
                f"timeout must be a number of seconds > 0 or None; got {timeout!r} "
                f"({type(timeout).__name__})"
            )
        if not (math.isfinite(float(timeout)) and timeout > 0):
            raise ConfigError(f"timeout must be a finite number of seconds > 0; got {timeout!r}")
        timeout = float(timeout)
    if n_trials is None and timeout is None:
        raise ConfigError("give n_trials, timeout or both: the search must be bounded")
    return n_trials, timeout


def check_storage_url(storage: object) -> str:
    """``storage`` if it can name a persistent Optuna storage, else a :class:`StorageError`.

    Checked without connecting: the URL's form, that SQLAlchemy has its dialect and the
    driver is installed, and for SQLite that the database is a file whose folder exists
    (an in-memory database would be a different, empty one in every worker and reader).
    """
    from sqlalchemy.engine import make_url

    if not isinstance(storage, str):
        raise StorageError(
            f"storage must be {_URL_FORM}, or None for the lab's store; got "
            f"{type(storage).__name__}"
        )
    try:
        url = make_url(storage)
    except Exception:  # noqa: BLE001 - ArgumentError, ValueError: not a URL
        raise StorageError(f"storage must be {_URL_FORM}; got {_hidden(storage)}") from None
    shown = shown_url(storage)
    try:
        dialect = url.get_dialect()
    except Exception:  # noqa: BLE001 - NoSuchModuleError: unknown dialect or driver
        raise StorageError(
            f"storage {shown}: SQLAlchemy has no database kind {url.drivername!r}; use {_URL_FORM}"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise StorageError(
            f"storage {shown}: the Python driver for {url.drivername!r} is not installed "
            f"({exc}); install it, or use sqlite or postgresql+psycopg"
        ) from None
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        memory = url.query.get("mode") == "memory" or database in ("", ":memory:")
        if memory:
            raise StorageError(
                f"storage {shown} is an in-memory SQLite database: each worker and each "
                "reader would see another, empty one; name a file, e.g. "
                "sqlite:////absolute/path/study.db"
            )
        if not database.startswith("file:"):
            _check_sqlite_path(database, shown)
    return storage


def _check_sqlite_path(database: str, shown: str) -> None:
    """An SQLite file's path: its folder exists and is writable, the path is no folder, and
    the file system can name it (no NUL byte, no name over its length limit)."""
    if "\x00" in database:
        raise StorageError(f"storage {shown}: a file path cannot hold a NUL byte (\\x00)")
    path = Path(database)  # SQLAlchemy does not expand ~: neither does this check
    try:
        if path.is_dir():
            raise StorageError(f"storage {shown} names a folder; name a database file in it")
        folder = path.parent
        if not folder.is_dir():
            tilde = (
                " (a URL's ~ is not your home folder: write the full path)"
                if (database.startswith("~"))
                else ""
            )
            raise StorageError(
                f"storage {shown}: the folder {str(folder)!r} of the SQLite file does not "
                f"exist{tilde}; create it or choose another path"
            )
        if not os.access(folder, os.W_OK) and not path.exists():
            raise StorageError(
                f"storage {shown}: cannot create the SQLite file, no write permission in "
                f"{str(folder)!r}"
            )
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise StorageError(
            f"storage {shown}: the file system refuses this path ({exc.strerror or exc}); "
            "choose a shorter path"
        ) from None


def storage_key(storage: str) -> str:
    """The text that identifies ``storage``'s database on this machine: a relative SQLite
    path made absolute (``sqlite:///x.db`` from two folders is two databases)."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(storage)
    except Exception:  # noqa: BLE001
        return storage
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and not database.startswith("file:"):
        path = Path(database)
        if not path.is_absolute():
            return url.set(database=str(path.resolve())).render_as_string(hide_password=False)
    return storage


def open_storage(storage: str):
    """Optuna's ``RDBStorage`` for ``storage`` (checked first); a :class:`StorageError`
    naming the URL (password hidden) when the database cannot be opened or reached."""
    import optuna
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    check_storage_url(storage)
    url = make_url(storage)
    kwargs: dict = {}
    if url.get_backend_name() == "sqlite":
        kwargs = {"connect_args": {"timeout": 60}}
    elif url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        kwargs = {"connect_args": {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}}
    try:
        return optuna.storages.RDBStorage(storage, engine_kwargs=kwargs)
    except (SQLAlchemyError, optuna.exceptions.StorageInternalError, ImportError) as exc:
        raise StorageError(
            f"storage {shown_url(storage)} cannot be opened: {first_line(exc)}"
        ) from None
    except RuntimeError as exc:  # Optuna: a schema version it cannot upgrade
        raise StorageError(
            f"storage {shown_url(storage)} cannot be used: {first_line(exc)}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - e.g. the driver refusing a URL's ?timeout=abc
        raise StorageError(
            f"storage {shown_url(storage)} cannot be opened ({type(exc).__name__}): "
            f"{first_line(exc)}; check the URL's query options"
        ) from None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (SQLAlchemy's add background links)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__).strip()


# --------------------------------------------------------------------------- constraints


@dataclass(frozen=True)
class Constraint:
    """One bound a search trial must keep: ``name op limit``.

    ``name`` is a cost (a Measurement field such as ``artifact_bytes``, bounded from above)
    or a quality metric of :data:`lab.evaluation.quality.METRICS` (bounded by its worst
    acceptable value: ``macro_f1 >= 0.8``, ``mae <= 50``), read on the validation split.
    """

    name: str
    op: str  # "<=" or ">="
    limit: float
    quality: bool = False  # a quality metric (else a cost)

    def excess(self, value: float) -> float:
        """How far ``value`` is past the bound (≤ 0: kept), as Optuna's constraints read it."""
        return value - self.limit if self.op == "<=" else self.limit - value

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.limit:g}"


_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|≤|≥|==|=|<|>)\s*(\S+)\s*$")
_EXAMPLES = "e.g. 'artifact_bytes <= 8536', 'macro_f1 >= 0.8' or 'mae <= 50'"


def _cost_constraint(key: str, limit: object, costs: Mapping[str, str]) -> Constraint:
    if (
        isinstance(limit, bool)
        or not isinstance(limit, numbers.Real)
        or not math.isfinite(limit)
        or not limit > 0
    ):
        raise ConfigError(f"constraint {key} must be a finite positive number; got {limit!r}")
    return Constraint(key, "<=", float(limit))


def parse_constraint(text: object, costs: Mapping[str, str], task: str) -> Constraint:
    """``text`` (``"<name> <= <number>"`` or ``">="``) as a :class:`Constraint`.

    Args:
        text: a cost bounded from above (``artifact_bytes <= 8536``; the names of ``costs``)
            or a quality metric of ``task`` bounded by its worst acceptable value
            (``macro_f1 >= 0.8``: fractions from 0 to 1, never percentages; ``mae <= 50``
            in the target's units; a ``val_`` prefix is allowed: it is read on val).
        costs: the cost names a constraint may bound.
        task: the data's task (``binary``, ``multiclass``, ``regression``): its metrics only.

    Raises:
        ConfigError: naming what is wrong and what is allowed.

    Example:
        >>> str(parse_constraint("val_macro_f1>=0.8", {"artifact_bytes": ""}, "binary"))
        'macro_f1 >= 0.8'
    """
    from lab.evaluation import quality

    if not isinstance(text, str):
        raise ConfigError(f"constraint must be a string such as {_EXAMPLES}; got {text!r}")
    found = _FORM.match(text)
    if found is None:
        raise ConfigError(
            f"constraint must read '<name> <= <number>' or '>=', {_EXAMPLES}; got {text!r}"
        )
    name, op, number = found.groups()
    op = {"≤": "<=", "≥": ">="}.get(op, op)
    if op not in ("<=", ">="):
        raise ConfigError(
            f"constraint {text!r}: use <= or >= (a bound includes its limit), not {op}"
        )
    try:
        limit = float(number)
    except ValueError:
        raise ConfigError(f"constraint {text!r}: {number!r} is not a number") from None
    if not math.isfinite(limit):
        raise ConfigError(f"constraint {text!r}: the limit must be a finite number; got {number!r}")
    metric = name.removeprefix("val_")
    if name in costs:
        if op != "<=":
            raise ConfigError(
                f"constraint {text!r}: {name} is a cost, bounded from above: write {name} <= …"
            )
        return _cost_constraint(name, limit, costs)
    if metric in quality.METRICS:
        try:
            entry = quality.check_choice(metric, task)
        except ValueError as exc:
            raise ConfigError(f"constraint {text!r}: {exc}") from None
        wanted = ">=" if entry.higher_is_better else "<="
        if op != wanted:
            raise ConfigError(
                f"constraint {text!r}: {entry.words} is better {entry.direction}; a constraint "
                f"is its worst acceptable value: write {metric} {wanted} …"
            )
        if entry.unit == "fraction" and not 0 <= limit <= 1:
            raise ConfigError(
                f"constraint {text!r}: {metric} is a fraction from 0 to 1 (write 0.8 for 80 %); "
                f"got {number}"
            )
        if entry.unit == "target" and limit < 0:
            raise ConfigError(f"constraint {text!r}: {metric} is an error ≥ 0; got {number}")
        if entry.unit == "" and limit > 1:
            raise ConfigError(f"constraint {text!r}: {metric} is at most 1; got {number}")
        return Constraint(metric, op, limit, quality=True)
    raise ConfigError(
        f"constraint {text!r}: unknown name {name!r}; bound a cost ({', '.join(costs)}) or a "
        f"quality metric of this {task} task ({', '.join(quality.choices(task))})"
    )


def check_constraints(
    constraints: object, costs: Mapping[str, str], task: str
) -> tuple[Constraint, ...]:
    """``constraints`` as :class:`Constraint` objects: None; a dict ``{cost: upper bound}``
    (the costs of ``costs``); a string (:func:`parse_constraint`); or a list of strings."""
    if constraints is None:
        return ()
    if isinstance(constraints, Mapping):
        found = []
        for key, limit in constraints.items():
            if key not in costs:
                raise ConfigError(
                    f"constraints bound costs ({', '.join(costs)}) in a dict; got {key!r} "
                    f"(bound a quality metric with a string, {_EXAMPLES})"
                )
            found.append(_cost_constraint(key, limit, costs))
        return tuple(found)
    if isinstance(constraints, str):
        return (parse_constraint(constraints, costs, task),)
    if isinstance(constraints, (list, tuple)) and all(isinstance(c, str) for c in constraints):
        return tuple(parse_constraint(c, costs, task) for c in constraints)
    raise ConfigError(
        "constraints must be a dict {cost: upper bound}, e.g. {'artifact_bytes': 8536}, or "
        f"strings such as {_EXAMPLES}; got {constraints!r}"
    )
