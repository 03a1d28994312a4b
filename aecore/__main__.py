"""CLI: python -m aecore train | embed | probe | anomaly | report | code | showcase | list.

Human progress goes to stderr; the last line of stdout is one JSON object.
Any bad argument ends with exit code 2 and one sentence on stderr, before
anything is trained or written to the run cache.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not for users

from aecore import export, lesson, limits, probe  # noqa: E402  (none of these imports Keras or TensorFlow)
from aecore import script  # noqa: E402  (the Keras script's templates: no Keras either)
from aecore.config import RunConfig  # noqa: E402
from aecore.datasets import DATASETS, load_dataset, stored_datasets  # noqa: E402
from aecore.distribute import DEVICES, STRATEGIES, Placement  # noqa: E402
from aecore.errors import USER_ERRORS, StoreError  # noqa: E402
from aecore.files import write_atomic  # noqa: E402
from aecore.models import check_trainable, get_spec, names, specs  # noqa: E402
from aecore.models.spec import parse_sizes  # noqa: E402
from aecore.paths import cache_root  # noqa: E402
from aecore.store import RunStore  # noqa: E402

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


def _sizes(text):
    """An argparse type for a "sizes" field, e.g. '128,64'."""
    try:
        return parse_sizes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None


def _counts(text):
    """An argparse type for --labels: whole numbers from 1, e.g. '10,100,1000'."""
    counts = _sizes(text)
    if any(c < 1 or c > limits.MAX_TRAIN_SIZE for c in counts):
        raise argparse.ArgumentTypeError(f"label counts must be whole numbers from 1 to {limits.MAX_TRAIN_SIZE}")
    return counts


def _option(field):
    """argparse keyword arguments for a spec's Field."""
    if field.kind == "sizes":
        return dict(type=_sizes, metavar="N,N")
    if field.kind == "int":
        return dict(type=_number(int))
    if field.kind == "choice" and all(isinstance(c, str) for c in field.choices):
        return dict(choices=field.choices)
    return dict(type=_number(float))  # floats, and numeric choices: any value RunConfig accepts


def _hyperparameters() -> dict:
    """Every hyperparameter some architecture uses: name -> (its Field, {architecture: what it means there})."""
    found: dict = {}
    for spec in specs():
        for field in spec.fields:
            found.setdefault(field.name, (field, {}))[1][spec.name] = field.help or field.label
    return found


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m aecore", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run_options = _Parser(add_help=False)
    _add_run_options(run_options)
    t = sub.add_parser("train", parents=[run_options], help="train one model (or load it from the run cache)")
    t.add_argument("--strategy", choices=STRATEGIES, default="auto",
                   help="tf.distribute strategy: one device; mirrored over all local GPUs (or --cpu-devices); "
                        "multiworker as TF_CONFIG says; auto: mirrored when there are several local devices, else one")
    t.add_argument("--device", choices=DEVICES, default="auto", help="train on the CPU or a GPU (auto: a GPU if any)")
    t.add_argument("--cpu-devices", type=_number(int), default=1, metavar="N",
                   help="split the CPU into N logical devices, for --strategy mirrored without GPUs")
    t.add_argument("--scorecard", action="store_true",
                   help="variational models: add the importance-sampled NLL and, for a labelled dataset, the "
                        "quality of prior samples as a classifier of the dataset sees them (takes seconds)")
    e = sub.add_parser("embed", parents=[run_options],
                       help="write a run's encodings of its whole dataset (trained first if not cached)")
    e.add_argument("--out", required=True, help="the file to write: .npz or .csv")
    p = sub.add_parser("probe", parents=[run_options],
                       help="what a run's codes are worth with few labels: a linear probe on its codes against one on "
                            "pixels (trained first if not cached)")
    p.add_argument("--labels", type=_counts, default=probe.LABEL_COUNTS, metavar="N,N",
                   help="labelled training examples to probe with, besides all of them (default: 10,100,1000)")
    p.add_argument("--draws", type=_number(int), default=probe.DRAWS, metavar="N",
                   help="seeded draws of the labelled subset at each count (default: 5)")
    p.add_argument("--fine-tune", action="store_true",
                   help=f"also fine-tune a copy of the encoder with a softmax head ({probe.FINE_TUNE_DRAWS} draws at "
                        "most: a Keras training each)")
    a = sub.add_parser("anomaly", parents=[run_options],
                       help="score a run's test examples (--dataset: the normal data) against a score set by their "
                            "reconstruction error: ROC-AUC and the threshold at a recall (trained first if not cached)")
    a.add_argument("--score", required=True, metavar="NAME",
                   help="what to score: a dataset of the same example shape; inverted or noise (images); scaled, "
                        "shuffled or noise (vectors); held-out: the class a BASE-without-D dataset left out")
    a.add_argument("--recall", type=_number(float), default=0.9,
                   help="the share of the score set the threshold must flag, above 0 and at most 1 (default: 0.9)")
    a.add_argument("--out", help="a .csv file for each example's error: set (normal or anomaly), index, error, flagged")
    s = sub.add_parser("showcase", help="train the ready-made runs the pages show on a first visit, into the package")
    s.add_argument("--arch", action="append", choices=names(), help="only this architecture (repeatable; default: all)")
    s.add_argument("--lesson", action="store_true", help="only the Lesson's runs (default: with the architectures')")
    s.add_argument("--out", help="the folder to write them to (default: the package's showcase_runs/)")
    r = sub.add_parser("report", parents=[run_options],
                       help="write a run as one self-contained HTML report (trained first if not cached)")
    r.add_argument("--out", required=True, help="the .html file to write")
    r.add_argument("--probe", action="store_true",
                   help="add what the codes are worth with few labels (the probe's default counts and draws)")
    r.add_argument("--anomaly", action="store_true",
                   help="add the anomaly scores of the test images against clearly different inputs (image runs)")
    c = sub.add_parser("code", parents=[run_options],
                       help="print a run's Keras code: a standalone script (Keras 3 and NumPy) that builds the same "
                            "network, loads the same data and trains with the same settings (nothing is trained)")
    c.add_argument("--out", help="a .py file to write it to instead (then one JSON line on stdout)")
    sub.add_parser("list", help="name the architectures and datasets")
    return parser


def _add_run_options(t) -> None:
    """The options that name a run: --arch, --dataset, one per hyperparameter, and the cache's."""
    t.add_argument("--arch", required=True, choices=names())
    t.add_argument("--dataset", help="a dataset name (see 'list'); default: the architecture's default")
    everyone = set(names())
    for name, (field, meanings) in _hyperparameters().items():
        if len(set(meanings.values())) > 1:  # e.g. latent_dim: code size, bottleneck units or filters
            what = "; ".join(f"{text} ({arch})" for arch, text in meanings.items())
        else:
            what = next(iter(meanings.values())) + ("" if set(meanings) == everyone else f" ({', '.join(meanings)})")
        t.add_argument("--" + name.replace("_", "-"), dest=name, help=what, **_option(field))
    t.add_argument("--cache-dir", help="run cache folder (default: $AECORE_CACHE_DIR or ~/.cache/aecore)")
    t.add_argument("--no-cache", action="store_true", help="neither read nor write the run cache")


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


def _embed(args) -> dict:
    """Check the output path first, then get the run (as train does) and write its encodings."""
    path = export.check_path(args.out)
    summary, run, data = _train(args, with_run=True)
    arrays = export.encodings(run.model, data)
    export.write(arrays, path)
    print(f"wrote {', '.join(arrays)} of {len(arrays['split'])} examples to {path}", file=sys.stderr)
    return {"out": str(path), "examples": len(arrays["split"]), "arrays": list(arrays), "run": summary}


def _train(args, with_run: bool = False):
    """Validate everything (config, dataset, its fit to the arch, the cache folder), then get the run."""
    settings = {name: getattr(args, name) for name in _hyperparameters()}
    config = RunConfig.for_arch(args.arch, dataset=args.dataset, **settings)
    with contextlib.redirect_stdout(sys.stderr):  # keras' download messages are progress, not the result
        data = load_dataset(config.dataset)
    check_trainable(config, data)  # its shape, and a model that fits the memory bound
    scorecard = getattr(args, "scorecard", False)
    if scorecard and not get_spec(config.arch).samples:
        raise UsageError(f"The --scorecard is for variational models; the {config.arch} model has none.")
    if scorecard and (data.y_train is None or data.y_test is None):
        raise UsageError(f"'{data.name}' has no labels, so the --scorecard's classifier cannot be trained; "
                         "leave out --scorecard or use a labelled dataset.")
    if (args.command == "probe" or getattr(args, "probe", False)) and (data.y_train is None or data.y_test is None):
        raise UsageError(f"'{data.name}' has no labels, so a probe cannot be trained; use a labelled dataset.")
    if getattr(args, "anomaly", False) and not data.is_image:
        raise UsageError(f"The report's --anomaly scores images, and '{data.name}' holds vectors; leave it out.")
    store = None
    if not args.no_cache:
        if args.cache_dir is not None and not args.cache_dir.strip():
            raise StoreError("The --cache-dir must name a folder.")
        store = RunStore(args.cache_dir)
        store.check_writable()

    strategy = None
    if args.command == "train":  # last of the checks (a GPU check imports TensorFlow), before anything runs on it
        strategy = Placement(args.strategy, args.device, args.cpu_devices).checked(config.batch_size).start()

    from aecore.runner import get_run  # deferred: TensorFlow, once every check has passed

    n_train = min(config.train_size or len(data.x_train), len(data.x_train))
    print(f"{config.describe()}: {n_train} training examples", file=sys.stderr)
    started = time.perf_counter()
    run = get_run(config, store, progress=_print_progress, data=data, strategy=strategy)
    elapsed = time.perf_counter() - started
    for problem in store.take_problems() if store else []:
        print(problem, file=sys.stderr)
    if run.cached:
        print(f"loaded from the run cache in {elapsed:.1f} s (trained in {run.seconds:.1f} s)", file=sys.stderr)
    # seconds is the training time (of the original run when cached); elapsed_seconds is this command's.
    summary = {**run.summary(), "elapsed_seconds": round(elapsed, 3)}
    if get_spec(config.arch).samples:
        from aecore import scorecard as lab  # deferred: Keras

        if scorecard:
            print("scorecard: importance-sampled NLL and sample quality...", file=sys.stderr)
        summary.update(lab.run_figures(run.model, data, store or RunStore(), scorecard))
    return (summary, run, data) if with_run else summary


def _probe(args) -> dict:
    """Get the run (as train does), then probe its codes and the pixels at each label count."""
    if not 1 <= args.draws <= limits.MAX_PROBE_DRAWS:
        raise UsageError(f"--draws must be from 1 to {limits.MAX_PROBE_DRAWS}, got {args.draws}.")
    summary, run, data = _train(args, with_run=True)
    print(f"probing the codes and the pixels at {', '.join(map(str, args.labels))} labels and all...", file=sys.stderr)
    points = probe.codes_worth(run.model, data, args.labels, args.draws, fine_tune=args.fine_tune)
    return {"probe": probe.as_json(points), "run": summary}


def _anomaly(args) -> dict:
    """Check --recall, --out and --score (against the normal dataset) first, then get the run (as train does) and
    score the normal test examples against the score set at the threshold of the asked recall."""
    from aecore import anomaly  # deferred: scikit-learn, which the other commands' checks do not wait for

    if not 0 < args.recall <= 1:
        raise UsageError(f"--recall must be above 0 and at most 1, got {args.recall}.")
    path = None
    if args.out is not None:
        if not args.out.lower().endswith(".csv"):
            raise UsageError(f"The --out file must end in .csv, got '{os.path.basename(args.out) or args.out}'.")
        path = export.check_path(args.out)
    settings = {name: getattr(args, name) for name in _hyperparameters()}
    config = RunConfig.for_arch(args.arch, dataset=args.dataset, **settings)
    with contextlib.redirect_stdout(sys.stderr):  # keras' download messages are progress, not the result
        normal = load_dataset(config.dataset)
    sets = anomaly.score_sets(normal, args.score)  # an unknown name or another shape: refused before training
    summary, run, _ = _train(args, with_run=True)
    from aecore.metrics import per_example_mse  # deferred: scikit-learn and SciPy, as anomaly above
    from aecore.models import reconstruct  # deferred: Keras, once the run is had

    normal_errors = per_example_mse(sets.normal, reconstruct(run.model, sets.normal))
    anomaly_errors = per_example_mse(sets.anomalies, reconstruct(run.model, sets.anomalies))
    scores = anomaly.summary_at_recall(normal_errors, anomaly_errors, args.recall)
    if path is not None:
        write_atomic(path, anomaly.errors_csv({"normal": (sets.normal_index, normal_errors),
                                               "anomaly": (sets.anomaly_index, anomaly_errors)}, scores["threshold"]))
        print(f"wrote {len(normal_errors) + len(anomaly_errors)} errors to {path}", file=sys.stderr)
    return {"normal": sets.normal_name, "score": args.score, "anomalies": sets.anomaly_name,
            "unit": anomaly.error_unit(normal.is_image), **scores, "out": None if path is None else str(path),
            "run": json.loads(_json_line(summary))}


def _report(args) -> dict:
    """Check the output path first, then get the run (as train does) and write its report, atomically."""
    from aecore import report  # deferred: plotly and scikit-learn, so the CLI's checks do not wait for them

    path = report.check_path(args.out)
    summary, run, data = _train(args, with_run=True)
    points = None
    if args.probe:
        print("probing the codes and the pixels...", file=sys.stderr)
        points = probe.codes_worth(run.model, data)
    anomalies = report.score_anomalies(run.model, data) if args.anomaly else None
    page = report.report_html(run, data, points, anomalies).encode("utf-8")
    write_atomic(path, page)
    print(f"wrote the report of {run.config.describe()} to {path}", file=sys.stderr)
    return {"out": str(path), "bytes": len(page), "run": json.loads(_json_line(summary))}  # NaN as null


def _code(args) -> dict | None:
    """The run's standalone Keras script: printed, or written atomically to --out (checked first; then the JSON)."""
    path = script.check_out(args.out) if args.out is not None else None
    settings = {name: getattr(args, name) for name in _hyperparameters()}
    config = RunConfig.for_arch(args.arch, dataset=args.dataset, **settings)
    if path is None:
        print(script.keras_script(config), end="")
        return None
    script.write(config, path)
    return {"out": str(path), "bytes": path.stat().st_size, "run": config.describe(), "command": script.command(config)}


def _showcase(args) -> list[dict]:
    """Train and write each ready-made run (the folder checked first); one summary per run."""
    from aecore import showcase  # deferred: TensorFlow, once the folder has been checked

    folder = args.out or str(showcase.FOLDER)
    RunStore(folder).check_writable()
    if args.lesson or args.arch:
        chosen = [*(args.arch or ()), *(lesson.LESSON_RUNS if args.lesson else ())]
    else:
        chosen = [*names(), *lesson.LESSON_RUNS]
    summaries = []
    for name in chosen:
        print(f"{showcase.config_of(name).describe()}: the ready-made run {name}", file=sys.stderr)
        run = showcase.make(name, folder, progress=_print_progress)
        summaries.append(run.summary())
    return summaries


def _list() -> None:
    print("architectures:")
    for spec in specs():
        print(f"  {spec.name:14s} {spec.description}")
    print("datasets:")
    for name, text in DATASETS.items():
        print(f"  {name:14s} {text}")
    for name in stored_datasets():
        print(f"  {name:14s} stored from an upload")


def _json_line(summary: dict) -> str:
    """One line of strict JSON: NaN and infinity (e.g. throughput of a one-batch run) become null."""
    clean = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in summary.items()}
    return json.dumps(clean, allow_nan=False)


def main(argv: list[str] | None = None) -> int:
    """The command line; the exit status (0, 2 for any bad input, 130 when interrupted)."""
    try:
        args = _parser().parse_args(argv)
        # Stored datasets live in the run cache folder, so --cache-dir moves where their names are looked up too.
        with cache_root(getattr(args, "cache_dir", None) or None):
            if args.command == "list":
                _list()
            elif args.command == "train":
                print(_json_line(_train(args)))
            elif args.command == "embed":
                print(_json_line(_embed(args)))
            elif args.command == "probe":
                print(json.dumps(_probe(args)))
            elif args.command == "anomaly":
                print(json.dumps(_anomaly(args), allow_nan=False))
            elif args.command == "report":
                print(json.dumps(_report(args), allow_nan=False))
            elif args.command == "code":
                written = _code(args)
                if written is not None:
                    print(json.dumps(written))
            elif args.command == "showcase":
                for summary in _showcase(args):
                    print(_json_line(summary))
    except (UsageError, *USER_ERRORS) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted; nothing was cached", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
