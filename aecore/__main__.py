"""CLI: python -m aecore train | list | bench.

Human progress goes to stderr; the last line of stdout is one JSON object.
Any bad argument ends with exit code 2 and one sentence on stderr, before
anything is trained or written to the run cache.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not for users

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A bad command line; the message is one sentence."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message[0].upper() + message[1:].rstrip(".") + ".")


def _number(kind):
    """An argparse type for whole (int) or finite real (float) numbers, with a one-sentence error."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a {'whole number' if kind is int else 'number'}"
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
        return value

    parse.__name__ = "whole number" if kind is int else "number"
    return parse


def _parser() -> argparse.ArgumentParser:
    from aecore.config import ARCHS

    parser = _Parser(prog="python -m aecore", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train one model (or load it from the run cache)")
    t.add_argument("--arch", required=True, choices=ARCHS)
    t.add_argument("--dataset", help="a dataset name (see 'list'); default: the architecture's default")
    t.add_argument("--epochs", type=_number(int))
    t.add_argument("--batch-size", type=_number(int))
    t.add_argument("--latent-dim", type=_number(int))
    t.add_argument("--lr", type=_number(float))
    t.add_argument("--seed", type=_number(int))
    t.add_argument("--width", type=_number(float), help="conv: filter-count multiplier (1.0 = the notes' network)")
    t.add_argument("--noise", type=_number(float), help="denoising: input noise std, 0 = off")
    t.add_argument("--train-size", type=_number(int), help="use only the first N training examples (0 = all)")
    t.add_argument("--cache-dir", help="run cache folder (default: $AECORE_CACHE_DIR or ~/.cache/aecore)")
    t.add_argument("--no-cache", action="store_true", help="neither read nor write the run cache")
    sub.add_parser("list", help="name the architectures and datasets")
    b = sub.add_parser("bench", help="benchmark training and inference against plain Keras")
    b.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
    b.add_argument("--app", action="store_true", help="measure the Streamlit app instead")
    return parser


def _print_progress(p) -> None:
    loss = p.logs.get("loss")
    loss_text = f"  loss {loss:.4f}" if loss is not None else ""
    print(
        f"\repoch {p.epoch}/{p.epochs}  batch {p.batch}/{p.batches}{loss_text}  {p.seconds:.1f} s",
        end="",
        file=sys.stderr,
    )
    if p.batch == p.batches:
        print(file=sys.stderr)


def _train(args) -> dict:
    """Validate everything (config, dataset, its fit to the arch, the cache folder), then get the run."""
    from aecore.config import RunConfig
    from aecore.data import check_fits, load_dataset
    from aecore.store import RunStore, StoreError

    config = RunConfig.for_arch(
        args.arch,
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        latent_dim=args.latent_dim,
        lr=args.lr,
        seed=args.seed,
        width=args.width,
        noise=args.noise,
        train_size=args.train_size,
    )
    with contextlib.redirect_stdout(sys.stderr):  # keras' download messages are progress, not the result
        data = load_dataset(config.dataset)
    check_fits(config.arch, data)
    store = None
    if not args.no_cache:
        if args.cache_dir is not None and not args.cache_dir.strip():
            raise StoreError("The --cache-dir must name a folder.")
        store = RunStore(args.cache_dir)
        store.check_writable()

    from aecore.train import get_run  # imports keras: only once the arguments are known to be good

    n_train = min(config.train_size or len(data.x_train), len(data.x_train))
    print(f"{config.describe()}: {n_train} training examples", file=sys.stderr)
    started = time.perf_counter()
    run = get_run(config, store, progress=_print_progress, data=data)
    elapsed = time.perf_counter() - started
    for problem in store.take_problems() if store else []:
        print(problem, file=sys.stderr)
    if run.cached:
        print(f"loaded from the run cache in {elapsed:.1f} s (trained in {run.seconds:.1f} s)", file=sys.stderr)
    # seconds is the training time (of the original run when cached); elapsed_seconds is this command's.
    return {**run.summary(), "elapsed_seconds": round(elapsed, 3)}


def _list() -> None:
    from aecore.config import ARCH_DESCRIPTIONS
    from aecore.data import DATASETS

    print("architectures:")
    for name, text in ARCH_DESCRIPTIONS.items():
        print(f"  {name:14s} {text}")
    print("datasets:")
    for name, text in DATASETS.items():
        print(f"  {name:14s} {text}")


def _json_line(summary: dict) -> str:
    """One line of strict JSON: NaN and infinity (e.g. throughput of a one-batch run) become null."""
    clean = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in summary.items()}
    return json.dumps(clean, allow_nan=False)


def main(argv: list[str] | None = None) -> int:
    from aecore.config import ConfigError
    from aecore.data import DataError
    from aecore.store import StoreError

    try:
        args = _parser().parse_args(argv)
        if args.command == "list":
            _list()
        elif args.command == "train":
            print(_json_line(_train(args)))
        elif args.command == "bench":
            if importlib.util.find_spec("aecore.bench") is None:
                raise UsageError("The benchmark is not part of this installation (aecore/bench.py is missing).")
            from aecore.bench import main as bench_main

            return bench_main(quick=args.quick, app=args.app)
    except (UsageError, ConfigError, DataError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted; nothing was cached", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
