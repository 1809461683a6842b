"""Command line: ``python -m lab {zoo,evaluate,train}``."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description="Efficiency Lab")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a zoo model and write its checkpoint + card")
    train.add_argument("model")
    train.add_argument("--out", default=None, help="directory (default: lab/checkpoints)")
    train.add_argument("--epochs", type=float, default=None)
    args = parser.parse_args(argv)
    if args.command == "train":
        from dataclasses import replace

        from . import zoo

        config = zoo.spec(args.model).train
        if args.epochs is not None:
            config = replace(config, epochs=args.epochs)
        print(json.dumps(zoo.train_and_save(args.model, args.out, config), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
