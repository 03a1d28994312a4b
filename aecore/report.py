"""A run as a report: one self-contained HTML file (no request outside it) that says what the run is, how it did and
how to make it again.

Its sections: the run's name and settings, the test metrics with units, the loss curves, reconstructions of test
examples, the latent map, the codes' worth and the anomaly scores where they were computed, the command line that
trains it and the standalone Keras script of it. The figures are the app's own (aecore.figures); plotly.js is
inlined once and images are data: URLs, so the file opens offline and can be mailed or archived as it is.
"""

from __future__ import annotations

import html
import json
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.io as pio
from plotly.offline import get_plotlyjs

from aecore import __version__, anomaly, export, figures, script
from aecore import metrics as M
from aecore.datasets import Dataset
from aecore.errors import ConfigError, DataError
from aecore.models import get_spec
from aecore.models.spec import BCE_QUALITY, MSE_HELP, PSNR_HELP
from aecore.run import Run

SUFFIX = ".html"
EXAMPLES = 1000  # test examples the latent map and the anomaly scores use, as the pages' views do
GRID_IMAGES = 8  # reconstructions shown, as the page's grid starts
ANOMALY_UNIT = "MSE per pixel"
MAPS = 6  # images in each row of error maps: the worst scored, then the best scored, as the Anomaly page
# Plotly's mode bar links to plotly.com from its logo: a report offers nothing outside itself.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
# In a process that imported Streamlit (the app's server) plotly's default template is Streamlit's, whose colours
# are placeholders, #000001 to #000030 (ten categorical, ten sequential, ten diverging), that only Streamlit's front
# end resolves: a report swaps them for real ones, and draws every figure on one template of its own.
TEMPLATE = "plotly_white"
PLACEHOLDER_COLOURS = {f"#{i + 1:06d}": colour for i, colour in enumerate(
    [*figures.LABEL_COLOURS[:10], *px.colors.sequential.Viridis[:10], *px.colors.diverging.RdBu[:10]])}
_PLACEHOLDER = re.compile(r"#0000[0-3][0-9](?![0-9a-fA-F])")

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2333; margin: 0 auto;
       max-width: 1000px; padding: 24px 32px 64px; line-height: 1.45; }
header { border-bottom: 2px solid #4f46e5; margin-bottom: 8px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 32px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
.meta { color: #4b5563; margin: 4px 0 12px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.95em; }
th, td { border: 1px solid #e5e7eb; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.caption { color: #4b5563; font-size: 0.9em; margin: 4px 0 12px; }
pre { background: #f6f8fa; border: 1px solid #e5e7eb; padding: 12px; overflow-x: auto; font-size: 0.85em; }
img { max-width: 100%; }
nav a { margin-right: 12px; }
"""


@dataclass(frozen=True)
class AnomalyScores:
    """The inputs scored and their per-image errors (MSE per pixel): the normal test images first, then each set
    of clearly different inputs, under the same names in both."""

    groups: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]


def check_path(path) -> Path:
    """The output path, if it names an .html file that can be written; ExportError in one sentence otherwise (the
    CLI asks before it trains)."""
    return export.check_path(path, formats=(SUFFIX,))


def score_anomalies(model, data: Dataset) -> AnomalyScores:
    """The run's errors on its first test images against clearly different inputs (inverted images, noise, and
    the other dataset where it is on this machine: aecore.anomaly), as the Anomaly page scores them."""
    from aecore.models import reconstruct  # deferred: TensorFlow

    x = data.x_test[:EXAMPLES]
    foreign_name = anomaly.foreign_dataset(data.name)
    foreign = None if foreign_name is None else anomaly.load_offline(foreign_name, tuple(x.shape[1:]))
    groups = {f"test images ({data.name})": x,
              **anomaly.different_inputs(x, seed=0, foreign=None if foreign is None else (foreign_name, foreign))}
    return AnomalyScores(groups, {name: M.per_example_mse(g, reconstruct(model, g)) for name, g in groups.items()})


def metric_rows(run: Run, data: Dataset) -> list[tuple[str, float | None, str, str]]:
    """(label with its unit, value, format, meaning) of each test figure, as the architecture page's header
    shows them."""
    m = run.metrics
    per = "pixel" if data.is_image else "coord."
    rows = [(f"MSE (per {per})", m.get("test_mse"), "{:.4f}", MSE_HELP)]
    if data.is_image:
        rows += [(BCE_QUALITY.title, m.get("test_bce"), BCE_QUALITY.fmt, BCE_QUALITY.help),
                 ("PSNR (dB)", m.get("test_psnr"), "{:.1f}", PSNR_HELP)]
    rows += [(metric.title, m[metric.key], metric.fmt, metric.help)
             for metric in get_spec(run.config.arch).header_metrics if metric.key in m]
    unit = "images/s" if data.is_image else "points/s"
    rows += [("Training (s)", m.get("seconds"), "{:.1f}", "Seconds of training, from the first step to the last."),
             (f"Speed ({unit})", m.get("train_img_per_s"), "{:,.0f}", "Training examples per second, averaged.")]
    return rows


def train_command(config) -> str:
    """The command line that trains this run (or loads it from the run cache), every setting spelled out."""
    words = ["python", "-m", "aecore", "train", "--arch", config.arch]
    for name, value in config.settings().items():
        text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        words += ["--" + name.replace("_", "-"), text]
    return shlex.join(words)


def report_html(run: Run, data: Dataset, probe_points: list | None = None,
                anomalies: AnomalyScores | None = None) -> str:
    """The report of run on data as one self-contained HTML page; probe_points (aecore.probe.ProbePoint) and
    anomalies (score_anomalies) add the codes' worth and the anomaly scores where they were computed."""
    config = run.config
    spec = get_spec(config.arch)
    name = config.describe()
    sections = [
        ("settings", "Settings", _settings(run, data)),
        ("metrics", "Test metrics", _metrics(run, data)),
        ("training", "Training", _training(run, data)),
        ("reconstructions", "Reconstructions", _reconstructions(run, data)),
        ("latent", "Latent space", _latent(run, data)),
    ]
    if probe_points:
        sections.append(("codes-worth", "What the codes are worth with few labels", _probe(probe_points)))
    if anomalies is not None:
        sections.append(("anomaly", "Anomaly scores", _anomaly(run, anomalies)))
    sections.append(("reproduce", "Reproduce this run", _reproduce(config)))
    trained = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.trained_at))
    head = (f"<header><h1>{_e(name)}</h1><p class='meta'>{_e(spec.title)}: {_e(spec.description)}. Trained in "
            f"{run.seconds:.1f} s on {trained}; {run.model.count_params():,} parameters; report made by Autoencoder "
            f"Studio {__version__} (aecore).</p><nav>"
            + "".join(f"<a href='#{anchor}'>{_e(title)}</a>" for anchor, title, _ in sections) + "</nav></header>")
    body = "".join(f"<section id='{anchor}'><h2>{_e(title)}</h2>{content}</section>"
                   for anchor, title, content in sections)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(name)}: a run of Autoencoder Studio</title><style>{CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>{head}{body}</body></html>")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _figure(fig) -> str:
    """A plotly figure as a div drawn by the page's one inlined plotly.js, on the report's template."""
    fig.update_layout(template=TEMPLATE)
    div = pio.to_html(fig, full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG)
    return _PLACEHOLDER.sub(lambda m: PLACEHOLDER_COLOURS.get(m.group(0), m.group(0)), div)


def _table(frame: pd.DataFrame, numbers: tuple[str, ...] = ()) -> str:
    """A small table: a header row, then one row per record, the columns named in numbers set right."""
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td class='number'>{_e(v)}</td>" if c in numbers else f"<td>{_e(v)}</td>"
                                    for c, v in zip(frame.columns, record)) + "</tr>"
                   for record in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _caption(text: str) -> str:
    return f"<p class='caption'>{_e(text)}</p>"


def _settings(run: Run, data: Dataset) -> str:
    labels = {f.name: f.label for f in get_spec(run.config.arch).fields}
    shape = " x ".join(map(str, data.input_shape))
    dataset = f"{data.name} ({len(data.x_train):,} training and {len(data.x_test):,} test examples of shape {shape})"
    rows = [("Architecture", run.config.arch), ("Dataset", dataset)]
    for name, value in run.config.settings().items():
        if name != "dataset":
            rows.append((labels.get(name, name), ", ".join(map(str, value)) if isinstance(value, list) else value))
    return _table(pd.DataFrame(rows, columns=["setting", "value"]))


def _metrics(run: Run, data: Dataset) -> str:
    rows = [(label, "n/a" if value is None or not np.isfinite(value) else fmt.format(value), meaning)
            for label, value, fmt, meaning in metric_rows(run, data)]
    return (_table(pd.DataFrame(rows, columns=["figure (unit)", "value", "what it means"]), numbers=("value",))
            + _caption("On the whole test set."))


def _loss_unit(run: Run, data: Dataset) -> str:
    return get_spec(run.config.arch).loss_unit(run.config, "pixel" if data.is_image else "coordinate")


def _training(run: Run, data: Dataset) -> str:
    unit = _loss_unit(run, data)
    fig = figures.loss_curves(run.history, unit, get_spec(run.config.arch).loss_parts)
    return _figure(fig) + _caption(f"Training and validation loss per epoch (validation on up to 1000 test "
                                   f"examples). Loss unit: {unit}.")


def _reconstructions(run: Run, data: Dataset) -> str:
    from aecore.models import reconstruct  # deferred: TensorFlow

    x = data.x_test[:EXAMPLES]
    recon = reconstruct(run.model, x)
    errors = M.per_example_mse(x, recon)
    # The page's grid as it opens: a seeded random pick of the test examples.
    idx = np.random.default_rng(0).choice(len(x), size=min(GRID_IMAGES, len(x)), replace=False)
    if not data.is_image:
        table = pd.DataFrame(x[idx], columns=[f"x{i + 1}" for i in range(x.shape[1])]).round(4)
        for i in range(recon.shape[1]):
            table[f"reconstructed x{i + 1}"] = recon[idx, i].round(4)
        table["MSE per coordinate"] = errors[idx].round(5)
        table.insert(0, "test index", idx)
        return _table(table, numbers=tuple(table.columns)) + _caption(
            f"Test points and their reconstructions. Mean over the first {len(x)} test points: "
            f"{errors.mean():.4f} MSE per coordinate.")
    top = [data.test_title(i) for i in idx]
    bottom = [f"MSE {errors[i]:.4f}" for i in idx]
    png = figures.png_grid([x[idx], recon[idx]], [top, bottom])
    return (f"<img alt='test images above their reconstructions' src='{figures.data_url(png)}'>"
            + _caption("Top: test images (index and label). Bottom: their reconstructions, titled with per-pixel "
                       f"MSE. Mean over the first {len(x)} test images: {errors.mean():.4f} MSE per pixel."))


def _latent(run: Run, data: Dataset) -> str:
    from aecore.models import encode  # deferred: TensorFlow

    x = data.x_test[:EXAMPLES]
    codes = encode(run.model, x)
    projection = M.Projection2D.fit(codes)
    labels = None if data.y_test is None else data.y_test[:EXAMPLES]
    position = None if data.position_test is None else data.position_test[:EXAMPLES]
    fig = figures.latent_scatter_base(projection.transform(codes), labels, projection.label, data.label_names,
                                      position)
    how = "projected on their first two principal components" if projection.label.startswith("PCA") else "as they are"
    return _figure(fig) + _caption(f"The first {len(codes)} test examples' {codes.shape[1]}-D codes, {how}"
                                   + (", coloured by label." if labels is not None else "."))


def _probe(points: list) -> str:
    rows = [(p.features, p.labels, f"{p.mean:.1%}", f"{p.std:.1%}", p.draws) for p in points]
    frame = pd.DataFrame(rows, columns=["features", "labelled training images", "test accuracy (mean, %)",
                                        "spread (standard deviation, %)", "draws"])
    return (_figure(figures.probe_curves(points))
            + _caption("A logistic regression learns the classes from a few labelled training images, on the "
                       "frozen encoder's codes and on the raw pixels; the test accuracy is on the whole test set, "
                       "the error bars the spread over seeded draws of the labelled images.")
            + _table(frame, numbers=tuple(frame.columns[1:])))


def _anomaly(run: Run, scores: AnomalyScores) -> str:
    errors = scores.errors
    normal_name = next(iter(errors))
    normal = errors[normal_name]
    threshold = anomaly.default_threshold(normal)
    rows = []
    for name, e in errors.items():
        auc = "(these are the normal)" if name == normal_name else f"{anomaly.score(normal, e, threshold).roc_auc:.3f}"
        rows.append((name, len(e), f"{np.median(e):.4f}", f"{100 * (e > threshold).mean():.1f}", auc))
    frame = pd.DataFrame(rows, columns=["inputs", "images", f"median error ({ANOMALY_UNIT})", "flagged (%)",
                                        "ROC-AUC against the normal images (0 to 1)"])
    # The worst and the best scored images of all sets, the best on the worst's colour scale (as the Anomaly page).
    from aecore.models import reconstruct  # deferred: TensorFlow

    scored = sorted((float(e[i]), name, i) for name, e in errors.items() for i in range(len(e)))
    picks = scored[::-1][:MAPS] + scored[:MAPS]
    images = np.stack([scores.groups[name][i] for _, name, i in picks])
    recons = reconstruct(run.model, images)
    titles = [f"{'normal' if name == normal_name else name}<br>{mse:.3g}" for mse, name, _ in picks]
    worst_zmax = float(((images[:MAPS] - recons[:MAPS]) ** 2).max())
    return (_figure(figures.error_histogram(errors, threshold, ANOMALY_UNIT))
            + _caption(f"Per-image reconstruction error of the {normal_name} against clearly different inputs. "
                       f"The threshold ({threshold:.3g} {ANOMALY_UNIT}) flags "
                       f"{anomaly.DEFAULT_FALSE_ALARMS:.0%} of the "
                       f"{normal_name}.")
            + _table(frame, numbers=tuple(frame.columns[1:4]))
            + _figure(figures.error_maps(images[:MAPS], recons[:MAPS], titles[:MAPS]))
            + _caption(f"The {MAPS} worst scored images of all sets ({ANOMALY_UNIT}), their reconstructions and "
                       "their squared error per pixel.")
            + _figure(figures.error_maps(images[MAPS:], recons[MAPS:], titles[MAPS:], zmax=worst_zmax))
            + _caption(f"The {MAPS} best scored, on the same colour scale as the worst: a dark map is a faithful "
                       "copy."))


def _reproduce(config) -> str:
    try:
        code, why_not = script.keras_script(config), None
    except (ConfigError, DataError) as exc:  # an architecture with no script template: the rest of the report stands
        code, why_not = None, str(exc)
    settings = json.dumps(config.to_dict(), indent=2)
    parts = [(f"<p>Train it again (or load it from the run cache) with aecore:</p><pre><code>"
              f"{_e(train_command(config))}</code></pre>"),
             f"<p>Its settings as the run cache keeps them (run.json):</p><pre><code>{_e(settings)}</code></pre>"]
    if code is None:
        parts.append(f"<p>No standalone Keras script: {_e(why_not)}</p>")
    else:
        parts.append("<p>The same network and training in plain Keras 3 and NumPy, without aecore "
                     f"(<code>python -m aecore code</code> prints it):</p><pre><code>{_e(code)}</code></pre>")
    return "".join(parts)
