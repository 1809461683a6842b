"""Command line for scripts and CI.

python -m lab data                      # find + verify Fashion-MNIST, print the splits
python -m lab zoo [--json]              # the model zoo and its model cards
python -m lab evaluate --model cnn --split test --country FRA --json [--recipe JSON]
python -m lab train cnn [--country FRA] # reproduce a checkpoint and its card (+ training energy)
python -m lab train cnn --energy-only   # re-run the recipe in a temp dir, record its energy in the card
python -m lab train cnn --threads 1     # torch threads for the run (recorded in the card)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace


def _cmd_data(args: argparse.Namespace) -> int:
    from lab.datasets import fashion as data

    raw = data.find_raw_dir()
    sizes = data.split_sizes()
    print(f"Fashion-MNIST verified in {raw}: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    return 0


def _cmd_zoo(args: argparse.Namespace) -> int:
    from lab.models import zoo

    rows = []
    for name in zoo.names():
        try:
            meta = zoo.card(name)
        except zoo.CheckpointError as exc:
            meta = {"name": name, "error": str(exc)}
        rows.append(meta)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'model':<9}{'params':>10}{'val':>8}{'test':>8}  description")
    for meta in rows:
        acc = meta.get("accuracy", {})
        print(
            f"{meta['name']:<9}{meta.get('parameters', 0):>10,}{acc.get('val', float('nan')):>8.2%}"
            f"{acc.get('test', float('nan')):>8.2%}  {meta.get('description', meta.get('error'))}"
        )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from lab.evaluation import measure
    from lab.models import zoo

    recipe = args.recipe
    if recipe is not None and recipe.resolution is not None:  # before the model is loaded
        from lab.datasets import DataError, as_data

        try:
            as_data(None).check_size(recipe.resolution.size)
        except DataError as exc:
            raise ValueError(f"argument --recipe: {exc}") from None
    model = zoo.load(args.model)
    result = measure.evaluate(
        model,
        recipe,
        split=args.split,
        country=args.country,
        name=args.model,
        effort=args.effort,
        use_cache=not args.no_cache,
    )
    print(result.to_json() if args.json else repr(result))
    return 0


# search()'s argument names → the command line's options (errors name what was typed)
_SEARCH_OPTIONS = {
    "storage": "--storage",
    "study": "--study",
    "n_trials": "--trials",
    "timeout": "--hours",
    "n_workers": "--workers",
    "seed": "--seed",
    "constraint": "--constraint",  # --max-bytes is checked by argparse (a positive integer)
    "constraints": "--constraint",
    "objectives": "--objectives",
}


def _as_option(message: str) -> str:
    """``"storage 'x' …"`` → ``"argument --storage: storage 'x' …"`` (argparse's form)."""
    for name, option in _SEARCH_OPTIONS.items():
        if message.startswith(name + " ") or message.startswith(name + ":"):
            return f"argument {option}: {message}"
    return message


def _cmd_search(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from lab.decide.search import SearchSpace, search
    from lab.decide.search_inputs import first_line, shown_url
    from lab.techniques.configs import ConfigError

    space = SearchSpace.tiny() if args.space == "tiny" else SearchSpace()
    constraints = {"artifact_bytes": args.max_bytes} if args.max_bytes else None
    if args.constraint:  # strings, checked against the data's task by search()
        constraints = [*args.constraint] + (
            [f"artifact_bytes <= {args.max_bytes}"] if args.max_bytes else []
        )
    try:
        result = search(
            space,
            objectives=args.objectives,
            constraints=constraints,
            n_trials=args.trials if args.trials or args.hours else 20,
            timeout=None if args.hours is None else args.hours * 3600,
            study=args.study,
            storage=args.storage,
            n_workers=args.workers,
            seed=args.seed,
            progress=not args.json,
        )
        front = result.frontier()
    except ConfigError as exc:
        raise ConfigError(_as_option(str(exc))) from None
    except SQLAlchemyError as exc:  # the database failed after it was opened
        where = "the lab's store" if args.storage is None else shown_url(args.storage)
        raise RuntimeError(
            f"argument --storage: the database {where} failed: {first_line(exc)}"
        ) from None
    columns = ["number", *result.objectives]
    if args.json:
        print(front[columns].to_json(orient="records"))
    else:
        print(front[columns].to_string(index=False))
    return 0


def _objectives(text: str) -> tuple[str, ...]:
    from lab.decide.search import OBJECTIVES

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if len(names) < 2 or any(n not in OBJECTIVES for n in names):
        raise argparse.ArgumentTypeError(
            f"two or more comma-separated names from {', '.join(OBJECTIVES)}; got {text!r}"
        )
    return names


def _positive_int(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return int(text)


def _storage_url(text: str) -> str:
    """``--storage``: a URL that can name a persistent study (checked without connecting)."""
    from lab.decide.search_inputs import StorageError, check_storage_url

    try:
        return check_storage_url(text)
    except StorageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _study_name(text: str) -> str:
    from lab.decide.search_inputs import check_study_name
    from lab.techniques.configs import ConfigError

    try:
        return check_study_name(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _threads(text: str) -> int:
    """``--threads``: from 1 to 4 × this machine's cores (as ``--workers``)."""
    import os

    most = 4 * (os.cpu_count() or 1)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= most:
        raise argparse.ArgumentTypeError(
            f"must be an integer from 1 to {most} (4 × this machine's {os.cpu_count() or 1} "
            f"cores); got {text!r}"
        )
    return int(text)


def _seed(text: str) -> int:
    from lab.decide.search_inputs import MAX_SEED

    text = text.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to {MAX_SEED}; got {text!r}")
    return int(text)


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and math.isfinite(value * 3600)):
        raise argparse.ArgumentTypeError(f"must be a finite number of hours > 0; got {text!r}")
    return value


def _out_dir(text: str) -> str:
    """``--out``: a folder that exists or can be made (checked before minutes of training)."""
    import os
    from pathlib import Path

    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"a folder's path cannot hold a NUL byte; got {text!r}")
    path = Path(text).expanduser()
    try:
        if path.exists() and not path.is_dir():
            raise argparse.ArgumentTypeError(f"must be a folder; {text!r} is a file")
        existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            raise argparse.ArgumentTypeError(
                f"cannot write checkpoints under {text!r}: {str(existing)!r} is not a writable "
                "folder"
            )
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise argparse.ArgumentTypeError(
            f"cannot write checkpoints under {text[:80]!r}: {exc.strerror or exc}"
        ) from None
    return text


def _make_out_dir(text: str | None) -> None:
    """Create ``--out`` before minutes of training (the checkpoint is written after them)."""
    from pathlib import Path

    if text is None:
        return
    try:
        Path(text).expanduser().mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"argument --out: cannot create the folder {text[:80]!r}: {exc.strerror or exc}"
        ) from None


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from lab.models import zoo

    _make_out_dir(args.out)
    config = zoo.spec(args.model).train
    if args.epochs is not None:
        config = replace(config, epochs=args.epochs)
    if args.threads is not None:
        torch.set_num_threads(args.threads)  # this process only; the card records it
    if args.energy_only:
        meta = zoo.record_training_energy(args.model, args.out, config, country=args.country)
    else:
        meta = zoo.train_and_save(args.model, args.out, config, country=args.country)
    print(json.dumps(meta, indent=2))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but every error is one line naming the argument and what is allowed (exit 2)."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _recipe(text: str):
    """``--recipe``: a Recipe's JSON (ConfigError's message says what is allowed)."""
    from lab.techniques.configs import ConfigError, Recipe

    try:
        return Recipe.from_json(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _country(text: str) -> str:
    from lab.meters import energy

    try:
        return energy.validate_country(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _epochs(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0 (passes); got {text!r}")
    return value


def _zoo_names() -> list[str]:
    from lab.models import zoo

    return zoo.names()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lab", description="Efficiency Lab")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("data", help="find and verify Fashion-MNIST").set_defaults(run=_cmd_data)
    zoo_cmd = sub.add_parser("zoo", help="list the model zoo")
    zoo_cmd.add_argument("--json", action="store_true")
    zoo_cmd.set_defaults(run=_cmd_zoo)
    ev = sub.add_parser("evaluate", help="measure a zoo model (optionally after a recipe)")
    ev.add_argument("--model", default="cnn", choices=_zoo_names())
    ev.add_argument("--split", default="test", choices=["live", "val", "test"])
    ev.add_argument(
        "--country", default="FRA", type=_country, help="ISO 3166 alpha-3 code, e.g. FRA, USA, IND"
    )
    ev.add_argument(
        "--recipe", default=None, type=_recipe, help='Recipe JSON, e.g. \'{"quant": {"bits": 4}}\''
    )
    ev.add_argument("--effort", default="full", choices=["quick", "full"])
    ev.add_argument("--no-cache", action="store_true", help="re-measure even if stored")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(run=_cmd_evaluate)
    se = sub.add_parser(
        "search",
        help="run search trials (resumable); start it on several machines with one --storage",
    )
    se.add_argument(
        "--study",
        default="search",
        type=_study_name,
        help="the study's name (the same name resumes)",
    )
    se.add_argument(
        "--storage",
        default=None,
        type=_storage_url,
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db (default: the lab's SQLite)",
    )
    se.add_argument(
        "--trials",
        type=_positive_int,
        default=None,
        help="finished trials the study should hold (default: 20, or unbounded with --hours)",
    )
    se.add_argument("--hours", type=_hours, default=None, help="stop starting trials after this")
    se.add_argument("--workers", type=_positive_int, default=1, help="processes on this machine")
    se.add_argument("--space", choices=["default", "tiny"], default="default")
    se.add_argument(
        "--objectives",
        type=_objectives,
        default=("val_accuracy", "artifact_bytes"),
        help="comma-separated, e.g. val_accuracy,artifact_bytes or val_macro_f1,latency_ms_p50",
    )
    se.add_argument("--max-bytes", type=_positive_int, default=None, help="artifact size bound")
    se.add_argument(
        "--constraint",
        action="append",
        default=None,
        metavar="BOUND",
        help="a bound on a cost or a quality metric on val, e.g. 'macro_f1 >= 0.8' or "
        "'artifact_bytes <= 8536' (repeat for several)",
    )
    se.add_argument("--seed", type=_seed, default=0, help="an integer from 0 to 2**31 − 1")
    se.add_argument("--json", action="store_true")
    se.set_defaults(run=_cmd_search)
    train = sub.add_parser("train", help="train a zoo model and write its checkpoint + card")
    train.add_argument("model", choices=_zoo_names())
    train.add_argument(
        "--out", default=None, type=_out_dir, help="directory (default: lab/checkpoints)"
    )
    train.add_argument("--epochs", type=_epochs, default=None)
    train.add_argument(
        "--country",
        default="FRA",
        type=_country,
        help="grid that prices the training CO2 in the card (ISO 3166 alpha-3)",
    )
    train.add_argument(
        "--threads",
        type=_threads,
        default=None,
        help="torch CPU threads (default: torch's); 1 is fastest on a busy shared machine",
    )
    train.add_argument(
        "--energy-only",
        action="store_true",
        help="re-run the recipe in a temporary directory and record its time, energy and CO2 "
        "in the existing card; the checkpoint is kept",
    )
    train.set_defaults(run=_cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"python -m lab {args.command}: error: {first}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
