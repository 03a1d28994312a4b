"""Figures for the dashboard: plotly builders and a PNG grid maker.

Pure functions, data in and figure out; this module never imports streamlit, so
the figures can be tested (and reused in notebooks) without a running app.
Images are float arrays in [0, 1] of shape (N, H, W) or (N, H, W, C), C = 1 (grey, drawn
in grey levels) or 3 (colour, drawn as RGB), of any height and width.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont
from plotly.subplots import make_subplots

from aecore.datasets import label_text
from aecore.models import colours
from aecore.models.spec import NATS_PER_IMAGE

# The VAE's loss parts as the history names them, with the titles the plots use.
def _planes(images: np.ndarray) -> np.ndarray:
    """(N, H, W[, C]) -> (N, H, W) grey or (N, H, W, 3) RGB: the channel axis only where there is colour."""
    images = np.asarray(images, np.float32)
    return images[..., 0] if images.ndim == 4 and images.shape[-1] == 1 else images


def _bytes(images: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] as uint8 levels, as plotly and PIL draw them."""
    return (np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)


# Ten classes told apart on a projector: Category10's saturated colours (the theme's own palette has pale ones).
LABEL_COLOURS = px.colors.qualitative.D3
# Error maps: black where the copy is faithful, then through red to yellow (Inferno's stops, its first as rgb():
# Plotly drew the hex of its near-black first stop as a violet).
ERROR_SCALE = [[0.0, "rgb(0,0,4)"], *[[i / 9, c] for i, c in enumerate(px.colors.sequential.Inferno) if i]]
GRID_WIDTH_PX = 900  # about the main column's width at 1280 to 1440 pixels with the sidebar open
# Image titles readable from the back of a room: the app's text colour, not a pale grey, at 14 px.
TITLE_FONT = dict(size=14, color="#1f2333")


def _imshow(images: np.ndarray, colour: bool, **kwargs) -> go.Figure:
    """px.imshow of uint8 grey or RGB images on the fixed 0..255 scale (never stretched to their own range)."""
    scale = dict(zmin=[0, 0, 0], zmax=[255, 255, 255]) if colour else dict(zmin=0, zmax=255)
    # binary_string sends each image as a small PNG instead of a JSON matrix: far less to ship.
    return px.imshow(images, binary_string=True, **scale, **kwargs)


def loss_curves(history: dict[str, list[float]], unit: str, parts: Mapping[str, str] | None = None) -> go.Figure:
    """Training and validation loss per epoch; each of parts (a spec's loss_parts: the VAE's reconstruction and KL,
    log key -> words) gets a panel of its own beside the total."""
    rows = []
    for key, part in {"loss": "total", **(parts or {})}.items():
        for split, prefix in (("train", ""), ("validation", "val_")):
            for epoch, value in enumerate(history.get(prefix + key, []), start=1):
                rows.append({"epoch": epoch, "value": value, "split": split, "part": part})
    frame = pd.DataFrame(rows, columns=["epoch", "value", "split", "part"])
    several = frame["part"].nunique() > 1
    fig = px.line(frame, x="epoch", y="value", color="split", markers=True, facet_col="part" if several else None)
    # Total, reconstruction and KL differ in scale: give each panel its own y axis.
    fig.update_yaxes(matches=None, showticklabels=True, title_text=None)
    fig.update_yaxes(title_text=unit, col=1)
    fig.update_xaxes(dtick=max(1, len(history.get("loss", [])) // 10))
    if several:
        fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(height=320, margin=dict(t=40, b=10), legend_title_text=None)
    return fig


def error_against_pca(autoencoder_mse: float, pca_mse: float, k: int, axis: str, colour: str) -> go.Figure:
    """The autoencoder's test error (its bar in its architecture's colour) beside PCA's with as many components."""
    frame = pd.DataFrame({"model": ["autoencoder", f"PCA, k = {k}"], "error": [autoencoder_mse, pca_mse]})
    fig = px.bar(frame, x="error", y="model", orientation="h", text_auto=".4f", color="model",
                 color_discrete_sequence=[colour, "#9ca3af"])
    fig.update_traces(textposition="outside", cliponaxis=False)
    fig.update_layout(height=200, margin=dict(t=10, b=10, r=60), showlegend=False, xaxis_title=axis,
                      yaxis_title=None, font_size=15)
    return fig


def probe_curves(points) -> go.Figure:
    """Test accuracy against labelled examples (log axis), codes against pixels (and the encoder fine-tuned, where
    asked), the draws' spread as error bars (points: aecore.probe.ProbePoint)."""
    frame = pd.DataFrame([{"features": p.features, "labels": p.labels, "accuracy": p.mean, "spread": p.std}
                          for p in points])
    fig = px.line(frame, x="labels", y="accuracy", color="features", error_y="spread", markers=True, log_x=True,
                  color_discrete_map={"codes": "#4f46e5", "pixels": "#9ca3af", "fine-tuned encoder": "#d97706"},
                  labels={"labels": "labelled training images", "accuracy": "test accuracy"})
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    fig.update_xaxes(tickvals=sorted(set(frame["labels"])))  # the counts probed, not a log axis's 2s and 5s
    fig.update_layout(height=380, margin=dict(t=20, b=10), legend_title_text=None, font_size=15)
    return fig


def probe_across_runs(series: dict) -> go.Figure:
    """Test accuracy against labels (log axis) of each run's codes (run label -> (architecture, its probe points:
    aecore.probe.ProbePoint)) in its architecture's colour, and the pixels' once, dashed grey."""
    rows, pixels = [], {}
    for label, (arch, points) in series.items():
        for p in points:
            if p.features == "codes":
                rows.append({"run": label, "architecture": arch, "labels": p.labels, "accuracy": p.mean})
            elif p.features == "pixels":
                pixels[p.labels] = p.mean
    frame = pd.DataFrame(rows)
    fig = px.line(frame, x="labels", y="accuracy", color="architecture", line_group="run", hover_name="run",
                  markers=True, log_x=True, color_discrete_map=colours(),
                  labels={"labels": "labelled training images", "accuracy": "test accuracy"})
    fig.add_scatter(x=sorted(pixels), y=[pixels[n] for n in sorted(pixels)], mode="lines+markers", name="pixels",
                    line=dict(color="#9ca3af", dash="dash"))
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    fig.update_xaxes(tickvals=sorted(set(frame["labels"])))
    fig.update_layout(height=400, margin=dict(t=20, b=10), legend_title_text=None, font_size=15)
    return fig


def error_maps(images: np.ndarray, reconstructions: np.ndarray, titles: list[str],
               zmax: float | None = None) -> go.Figure:
    """Each image above its reconstruction and its per-pixel squared error (averaged over colour channels), the
    maps on one colour scale from 0 to zmax (their own largest value by default), with its colour bar."""
    squared = ((np.asarray(images, np.float32) - np.asarray(reconstructions, np.float32)) ** 2).mean(axis=-1)
    zmax = float(squared.max()) if zmax is None else zmax
    n = len(images)
    fig = make_subplots(rows=3, cols=n, subplot_titles=[*titles, *[""] * 2 * n], vertical_spacing=0.03,
                        horizontal_spacing=0.01)
    for column, (image, recon, error) in enumerate(zip(_bytes(_planes(images)), _bytes(_planes(reconstructions)),
                                                     squared), start=1):
        for row, shown in ((1, image), (2, recon)):
            rgb = shown if shown.ndim == 3 else np.repeat(shown[..., None], 3, axis=-1)
            fig.add_trace(go.Image(z=rgb, hoverinfo="skip"), row=row, col=column)
        fig.add_trace(go.Heatmap(z=error[::-1], coloraxis="coloraxis",
                                 hovertemplate="squared error %{z:.3g}<extra></extra>"), row=3, col=column)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    for column in range(1, n + 1):  # square heatmap cells, like the images above them
        fig.update_yaxes(scaleanchor=f"x{2 * n + column}", row=3, col=column)
    fig.update_annotations(font=TITLE_FONT)
    fig.update_layout(height=3 * min(140, GRID_WIDTH_PX / n) + 60, margin=dict(l=0, r=0, t=50, b=0),
                      coloraxis=dict(colorscale=ERROR_SCALE, cmin=0, cmax=zmax,
                                     colorbar=dict(title="squared error", thickness=12)))
    return fig


def feature_error_map(vectors: np.ndarray, reconstructions: np.ndarray, row_titles: list[str],
                      zmax: float | None = None, feature_names: list[str] | None = None,
                      titles_px: int | None = None) -> go.Figure:
    """Vectors' squared error per feature as a heatmap, one row per vector (top to bottom as given) and one column
    per feature, on one colour scale from 0 to zmax (its own largest value by default): error_maps for vectors.
    titles_px: the row titles' width (two maps given one line up their columns), else as wide as they need."""
    squared = (np.asarray(vectors, np.float32) - np.asarray(reconstructions, np.float32)) ** 2
    zmax = float(squared.max()) if zmax is None else zmax
    columns = feature_names or [f"feature {j + 1}" for j in range(squared.shape[1])]
    fig = go.Figure(go.Heatmap(z=squared, x=columns, y=row_titles, zmin=0, zmax=zmax, colorscale=ERROR_SCALE,
                               colorbar={"title": "squared error", "thickness": 12},
                               hovertemplate="%{y}<br>%{x}: squared error %{z:.3g}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category", automargin=titles_px is None)
    fig.update_xaxes(type="category", side="top")
    fig.update_layout(height=min(60 + 28 * len(row_titles), 440), margin={"l": titles_px, "r": 0, "t": 40, "b": 0},
                      font={"size": 13})
    return fig


def live_loss(trace: list[tuple[float, float]], history: dict[str, list[float]], unit: str, title: str) -> go.Figure:
    """A training's loss as it goes: the running training loss within epochs (trace: (epochs done, loss) pairs),
    and each finished epoch's validation loss as a point; title says how far it goes, inside the figure, so that
    the curve and the words about it are never from different moments."""
    fig = go.Figure()
    if trace:
        at, loss = zip(*trace)
        fig.add_scatter(x=at, y=loss, mode="lines", name="train (running)", line=dict(color="#4f46e5", width=2))
    val = history.get("val_loss", [])
    if val:
        fig.add_scatter(x=list(range(1, len(val) + 1)), y=val, mode="markers+lines", name="validation",
                        marker=dict(size=7, color="#d97706"), line=dict(color="#d97706", width=1, dash="dot"))
    fig.update_layout(height=320, margin=dict(t=40, b=10), title=dict(text=title, font=TITLE_FONT),
                      xaxis_title="epoch", yaxis_title=unit, legend=dict(orientation="h", y=-0.25))
    fig.update_xaxes(rangemode="tozero")
    return fig


def image_grid(rows: list[np.ndarray], titles: list[list[str]] | None = None, tile_px: int = 110) -> go.Figure:
    """Rows of images (each an (n, H, W[, C]) array, all of the same n), with a title over each image."""
    n = len(rows[0])
    stack = _bytes(np.concatenate([_planes(r) for r in rows]))
    flat_titles = [t for row in titles for t in row] if titles else [""] * len(stack)
    fig = _imshow(stack, stack.ndim == 4, facet_col=0, facet_col_wrap=n, facet_col_spacing=0.01,
                  facet_row_spacing=0.12 / len(rows))
    fig.for_each_annotation(lambda a: a.update(text=flat_titles[int(a.text.split("=")[-1])], font=TITLE_FONT))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    # Tiles are as wide as the page's share allows: a row taller than its tiles would leave each title floating
    # above its image.
    tile = min(tile_px, GRID_WIDTH_PX / n)
    fig.update_layout(height=round(len(rows) * (tile + 22) + 10), margin=dict(l=0, r=0, t=24, b=0))
    return fig


def tile(images: np.ndarray, n_cols: int) -> np.ndarray:
    """Images (rows * n_cols, H, W[, C]) tiled row by row into one (rows * H, n_cols * W[, 3]) array."""
    images = _planes(images)
    n, h, w = images.shape[:3]
    depth = images.shape[3:]
    n_rows = n // n_cols
    grid = images[: n_rows * n_cols].reshape(n_rows, n_cols, h, w, *depth)
    return grid.swapaxes(1, 2).reshape(n_rows * h, n_cols * w, *depth)


def manifold(images: np.ndarray, grid: np.ndarray, axes: tuple[str, str] = ("z1", "z2")) -> go.Figure:
    """The N x N decoded images of a 2D latent grid; ticks show axes[0] (left to right) and axes[1] (bottom to top)."""
    n = len(grid)
    height, width = images.shape[1:3]
    labels = [f"{v:.2g}" for v in grid]
    sheet = _bytes(tile(images, n))
    fig = _imshow(sheet, sheet.ndim == 3)
    fig.update_xaxes(tickvals=np.arange(n) * width + width / 2, ticktext=labels, title_text=axes[0])
    fig.update_yaxes(tickvals=np.arange(n) * height + height / 2, ticktext=labels[::-1], title_text=axes[1])
    fig.update_layout(height=640, margin=dict(l=0, r=0, t=10, b=0))
    return fig


def latent_scatter(
    points: np.ndarray,
    labels: np.ndarray | None,
    axis_label: str,
    marker: tuple[float, float] | None = None,
    encoding: tuple[np.ndarray, np.ndarray] | None = None,
    encoding_name: str = "your digit",
    label_names: tuple[str, ...] | None = None,
) -> go.Figure:
    """Test examples in latent space coloured by label (hover shows label and test index).

    marker: one point to mark (the sliders' z). encoding: (mean, outline) of one input's
    encoding, the outline an (n, 2) one-standard-deviation ellipse (aecore.latent),
    drawn as a star at the mean inside the ellipse. label_names: the legend's words for labels 0, 1, ...
    """
    base = latent_scatter_base(points, labels, axis_label, label_names)
    return with_marks(base, marker, encoding, encoding_name)


def latent_scatter_base(points: np.ndarray, labels: np.ndarray | None, axis_label: str,
                        label_names: tuple[str, ...] | None = None, position: np.ndarray | None = None, *,
                        axes: tuple[str, str] | None = None, errors: np.ndarray | None = None,
                        error_label: str = "MSE") -> go.Figure:
    """The scatter of latent_scatter without marks: the costly part (validating every trace), worth caching.
    position: each point's place along the surface the data lies on, coloured on a continuous scale (no labels).
    axes: the two axes' titles (else axis_label 1 and 2); errors: each point's reconstruction error, shown on hover
    under error_label. Every point carries its test index first in its customdata (a selection reads it there).
    Past 1000 points plotly express draws WebGL (Scattergl), which stays fluid where SVG would not."""
    x_title, y_title = axes or (f"{axis_label} 1", f"{axis_label} 2")
    frame = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "test index": np.arange(len(points))})
    hover = {"x": ":.2f", "y": ":.2f", "test index": True}
    names = {"x": x_title, "y": y_title}
    if errors is not None:
        frame["error"] = np.asarray(errors, np.float64)[:len(points)]
        hover["error"] = ":.4f"
        names["error"] = error_label
    if labels is None and position is not None:
        frame["position"] = np.asarray(position)[:len(points)]
        fig = px.scatter(frame, x="x", y="y", color="position", color_continuous_scale="Viridis", opacity=0.85,
                         hover_data={**hover, "position": ":.2f"}, labels={**names, "position": "along the surface"})
        fig.update_traces(marker_size=6)
        fig.update_layout(height=420, margin=dict(t=10, b=10))
        return fig
    color, order = None, {}
    if labels is not None:
        labels = np.asarray(labels).tolist()
        frame["label"] = [label_text(v, label_names) for v in labels]
        color = "label"
        # In label order, not alphabetical.
        order = {"label": [label_text(v, label_names) for v in sorted(set(labels))]}
    fig = px.scatter(
        frame, x="x", y="y", color=color, category_orders=order, opacity=0.8, color_discrete_sequence=LABEL_COLOURS,
        hover_data=hover, labels=names,
    )
    fig.update_traces(marker_size=5)
    fig.update_layout(height=420, margin=dict(t=10, b=10), legend_title_text="label" if color else None)
    return fig


# A digit fills about the middle two thirds of its image, so a thumbnail drawn this many cells wide shows it about a
# cell wide: neighbours touch at most, and read from the back of a room.
THUMBNAIL_SCALE = 1.5


def _thumbnail_png(image: np.ndarray, colour: str | None) -> bytes:
    """One test image as a small PNG: a grey image as its strokes in colour on a transparent ground (a dark ground
    would hide the points beneath), a colour image as it is."""
    plane = _bytes(_planes(image[None]))[0]
    if plane.ndim == 2:
        rgb = tuple(int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)) if colour else (31, 35, 51)
        pixels = np.empty((*plane.shape, 4), np.uint8)
        pixels[..., :3] = rgb
        pixels[..., 3] = plane
        picture = Image.fromarray(pixels, "RGBA")
    else:
        picture = Image.fromarray(plane, "RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def with_thumbnails(base: go.Figure, points: np.ndarray, images: np.ndarray, indices: np.ndarray,
                    labels: np.ndarray | None = None, cells: int = 16) -> go.Figure:
    """A copy of a latent scatter with the images of indices drawn at their points, each THUMBNAIL_SCALE cells of a
    cells x cells grid over the points' range wide and high (latent_map.spread_subset picks one point per cell), the
    points faded; grey images are drawn in their label's colour (base is left as it was)."""
    points = np.asarray(points, np.float64)
    low, high = points.min(axis=0), points.max(axis=0)
    width, height = (float(v) for v in np.where(high > low, (high - low) / cells, 1.0))
    order = sorted(set(np.asarray(labels).tolist())) if labels is not None else []
    thumbnails = []
    for i in np.asarray(indices, int):
        colour = LABEL_COLOURS[order.index(int(labels[i])) % len(LABEL_COLOURS)] if labels is not None else None
        thumbnails.append(dict(source=data_url(_thumbnail_png(images[i], colour)), xref="x", yref="y",
                               x=float(points[i, 0]), y=float(points[i, 1]), sizex=THUMBNAIL_SCALE * width,
                               sizey=THUMBNAIL_SCALE * height,
                               xanchor="center", yanchor="middle", sizing="contain", layer="above"))
    # One layout update, not one add_layout_image per thumbnail: each of those validates the layout's images again.
    fig = go.Figure(base)
    fig.update_layout(images=thumbnails)
    fig.update_traces(marker_opacity=0.3)  # the points stay as context; the images are what is read
    return fig


SLIDER_POINT = "slider point"


def move_marker(fig: go.Figure, marker: tuple[float, float]) -> None:
    """Move the sliders' point of a figure made by with_marks, in place: a new with_marks copy would
    validate every trace of the scatter again on each slider move."""
    fig.update_traces(x=[marker[0]], y=[marker[1]], selector=dict(name=SLIDER_POINT))


def with_marks(
    base: go.Figure,
    marker: tuple[float, float] | None = None,
    encoding: tuple[np.ndarray, np.ndarray] | None = None,
    encoding_name: str = "your digit",
) -> go.Figure:
    """A copy of a latent scatter with the sliders' point and an encoding drawn on it (base is left as it was)."""
    fig = go.Figure(base)
    if marker is not None:
        fig.add_scatter(
            x=[marker[0]], y=[marker[1]], mode="markers", name=SLIDER_POINT,
            marker=dict(symbol="x", size=16, color="black", line=dict(width=2, color="white")),
        )
    if encoding is not None:
        centre, outline = encoding
        fig.add_scatter(x=[centre[0]], y=[centre[1]], mode="markers", name=f"{encoding_name} (mean)",
                        marker=dict(symbol="star", size=11, color="crimson", line=dict(width=1, color="white")),
                        hovertemplate="mean (%{x:.2f}, %{y:.2f})<extra></extra>")
        # Drawn last, over the star: a confident encoder's ellipse is barely larger than the star.
        fig.add_scatter(x=outline[:, 0], y=outline[:, 1], mode="lines", name=f"{encoding_name} (±1 sd)",
                        line=dict(color="crimson", width=2), hoverinfo="skip")
    return fig


def error_histogram(groups: dict[str, np.ndarray], threshold: float, unit: str, bins: int = 60,
                    examples: str = "images") -> go.Figure:
    """Overlaid histograms of per-example errors (one per group) on a log scale, and the threshold as a dashed line;
    examples: what the counts count ("images", "vectors").

    Errors of different inputs differ by orders of magnitude, so the bins are equal in
    log10(error); the axis ticks show the errors themselves.
    """
    logs = {name: np.log10(np.maximum(np.asarray(e, np.float64), 1e-12)) for name, e in groups.items()}
    everything = np.concatenate([*logs.values(), [np.log10(max(threshold, 1e-12))]])
    edges = np.linspace(everything.min(), everything.max() + 1e-9, bins + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    fig = go.Figure()
    for (name, values), colour in zip(logs.items(), itertools.cycle(LABEL_COLOURS)):
        counts, _ = np.histogram(values, edges)
        ranges = [f"{10 ** a:.3g} to {10 ** b:.3g}" for a, b in itertools.pairwise(edges)]
        fig.add_bar(x=centres, y=counts, width=width, name=name, opacity=0.7, marker_color=colour,
                    customdata=ranges,
                    hovertemplate=f"{name}<br>%{{customdata}} {unit}<br>%{{y}} {examples}<extra></extra>")
    ticks = [m * 10.0**d for d in range(int(np.floor(edges[0])), int(np.ceil(edges[-1])) + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if edges[0] <= np.log10(t) <= edges[-1]]
    fig.add_vline(x=float(np.log10(threshold)), line_dash="dash", line_color="black",
                  annotation_text=f"threshold {threshold:.3g}", annotation_position="top")
    fig.update_layout(barmode="overlay", height=380, margin=dict(t=30, b=10), legend_title_text="inputs",
                      xaxis=dict(title_text=f"reconstruction error ({unit}, log scale)",
                                 tickvals=np.log10(ticks), ticktext=[f"{t:g}" for t in ticks]),
                      yaxis_title_text=examples)
    return fig


def points_3d(points: np.ndarray, recon: np.ndarray | None = None, baseline: np.ndarray | None = None,
              baseline_name: str = "PCA") -> go.Figure:
    """A 3D point cloud, and its reconstructions joined to the originals by thin lines; a baseline's too, if given."""
    fig = go.Figure(go.Scatter3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], mode="markers",
                                 marker=dict(size=3), name="test points"))
    if baseline is not None:
        fig.add_scatter3d(x=baseline[:, 0], y=baseline[:, 1], z=baseline[:, 2], mode="markers",
                          marker=dict(size=2, opacity=0.5, color="#9ca3af"), name=baseline_name)
    if recon is not None:
        fig.add_scatter3d(x=recon[:, 0], y=recon[:, 1], z=recon[:, 2], mode="markers",
                          marker=dict(size=3), name="reconstructed")
        # One trace of segments separated by None: a line from each point to its reconstruction.
        segments = np.full((len(points) * 3, 3), np.nan)
        segments[0::3], segments[1::3] = points, recon
        fig.add_scatter3d(x=segments[:, 0], y=segments[:, 1], z=segments[:, 2], mode="lines",
                          line=dict(width=1, color="gray"), name="error", connectgaps=False)
    # The camera further back than Plotly's default, which cuts the box's near corner and its axis off below.
    fig.update_layout(height=560, margin=dict(l=0, r=0, t=10, b=0),
                      scene=dict(xaxis_title="x1", yaxis_title="x2", zaxis_title="x3", aspectmode="data",
                                 camera=dict(eye=dict(x=1.7, y=1.7, z=1.2))))
    return fig


def compare_bars(table: pd.DataFrame, value: str, label: str, arch: str) -> go.Figure:
    """One horizontal bar per run (its label on the left, read across), coloured by architecture as everywhere."""
    fig = px.bar(table, x=value, y=label, color=arch, orientation="h", color_discrete_map=colours(),
                 category_orders={label: table[label].tolist()}, text_auto=".4~g")
    fig.update_traces(textposition="outside", cliponaxis=False)
    fig.update_layout(height=120 + 44 * len(table), margin=dict(t=10, b=10, r=60), legend_title_text=None,
                      yaxis_title=None, bargap=0.3, font_size=15)
    return fig


def quality_against_time(table: pd.DataFrame, quality: str, seconds: str, label: str, arch: str,
                         number: str) -> go.Figure:
    """Each run as a point, numbered as in the table: its test quality (lower is better) against its training
    seconds, coloured by architecture; a run up and to the right of another is worse on both."""
    times = table[seconds].dropna()
    spread = times.max() / max(times.min(), 1e-9) if len(times) else 1.0
    fig = px.scatter(table, x=seconds, y=quality, color=arch, hover_name=label, text=number,
                     color_discrete_map=colours(), log_x=spread >= 10)  # a log axis only over a decade or more
    fig.update_traces(marker=dict(size=13, line=dict(width=1, color="white")), textposition="top center")
    fig.update_xaxes(rangemode="tozero" if spread < 10 else "normal")
    fig.update_yaxes(rangemode="tozero")  # an error is never below 0
    fig.update_layout(height=380, margin=dict(t=30, b=10), legend_title_text=None, font_size=15)
    return fig


def kl_bars(kl_per_dim: np.ndarray, active: np.ndarray) -> go.Figure:
    """KL per latent dimension (nats per image), sorted high to low, active dimensions coloured."""
    axis = f"KL ({NATS_PER_IMAGE})"
    order = np.argsort(kl_per_dim)[::-1]
    frame = pd.DataFrame({
        "dimension": [f"z{i + 1}" for i in order],
        axis: np.asarray(kl_per_dim)[order],
        "state": np.where(np.asarray(active)[order], "active", "inactive"),
    })
    fig = px.bar(frame, x="dimension", y=axis, color="state",
                 color_discrete_map={"active": "#4f46e5", "inactive": "#c7c9d9"},
                 category_orders={"dimension": frame["dimension"].tolist(), "state": ["active", "inactive"]})
    fig.update_layout(height=320, margin=dict(t=30, b=10), legend_title_text=None)
    return fig


def posterior_plane(
    mean2: np.ndarray, outlines: dict[str, np.ndarray], draws2: np.ndarray, axes: tuple[str, str], zoom: bool = False
) -> go.Figure:
    """One encoding in two latent dimensions over the prior N(0, I): the prior's 1, 2 and 3 sd circles,
    the encoder's mean, its sd ellipses (label -> closed outline) and draws z = mean + sigma * eps.
    zoom: framed on the encoding (its outlines and draws), the draws numbered; else the prior's whole plane."""
    fig = go.Figure()
    angle = np.linspace(0, 2 * np.pi, 97)
    for r in (1, 2, 3):
        fig.add_scatter(x=r * np.cos(angle), y=r * np.sin(angle), mode="lines", hoverinfo="skip",
                        line=dict(color="#c7c9d9", width=1, dash="dot"), name=f"prior N(0, I): {r} sd",
                        showlegend=r == 1, legendgroup="prior")
    for (label, outline), width in zip(outlines.items(), (2.5, 1.5)):
        fig.add_scatter(x=outline[:, 0], y=outline[:, 1], mode="lines", name=label, hoverinfo="skip",
                        line=dict(color="crimson", width=width))
    fig.add_scatter(x=draws2[:, 0], y=draws2[:, 1], mode="markers+text" if zoom else "markers", name="draws z",
                    text=[str(i + 1) for i in range(len(draws2))], textposition="top center", showlegend=zoom,
                    marker=dict(size=8, color="#4f46e5"), hovertemplate="z (%{x:.2f}, %{y:.2f})<extra></extra>")
    fig.add_scatter(x=[mean2[0]], y=[mean2[1]], mode="markers", name="mean",
                    marker=dict(symbol="star", size=14, color="crimson", line=dict(width=1, color="white")),
                    hovertemplate="mean (%{x:.2f}, %{y:.2f})<extra></extra>")
    if zoom:  # a square around everything the encoding drew, a little wider
        drawn = np.concatenate([*outlines.values(), draws2, mean2[None]])
        centre = (drawn.max(axis=0) + drawn.min(axis=0)) / 2
        half = float(max((drawn.max(axis=0) - drawn.min(axis=0)).max() / 2 * 1.25, 0.05))
        x_range, y_range = [centre[0] - half, centre[0] + half], [centre[1] - half, centre[1] + half]
    else:
        reach = float(max(3.2, np.abs(draws2).max() + 0.3, np.abs(mean2).max() + 0.5))
        x_range = y_range = [-reach, reach]
    fig.update_layout(height=440, margin=dict(t=20, b=10), xaxis_title=axes[0], yaxis_title=axes[1],
                      xaxis=dict(range=x_range), yaxis=dict(range=y_range, scaleanchor="x"), showlegend=zoom,
                      legend=dict(orientation="h", y=-0.15))
    return fig


def data_url(png: bytes) -> str:
    """A PNG as a data: URL, for an image that a page redraws several times a second (a slider, a live view):
    the page carries the pixels itself, so no earlier frame's address is left for the browser to fetch after the
    server has dropped it (a console error per frame)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_grid(rows: list[np.ndarray], captions: list[list[str]] | None = None, scale: int = 3, pad: int = 6) -> bytes:
    """Rows of images tiled into a PNG (made with PIL, so no browser or kaleido is needed), a caption under each."""
    buffer = io.BytesIO()
    _sheet(rows, captions, scale, pad).save(buffer, format="PNG")
    return buffer.getvalue()


def caption_px(scale: int) -> int:
    """The type size of a PNG sheet's captions: grows with its tiles, so that a caption stays readable on a
    projector under a large tile and still fits under a small one."""
    return int(np.clip(5 * scale, 12, 20))


def _sheet(rows: list[np.ndarray], captions: list[list[str]] | None, scale: int, pad: int,
           title: str | None = None) -> Image.Image:
    """Rows of images tiled onto one PIL image (grey, or RGB when any row is colour), a caption under each
    and an optional title on top."""
    rows = [_bytes(_planes(r)) for r in rows]
    colour = any(r.ndim == 4 for r in rows)
    n_cols = max(len(r) for r in rows)
    h, w = rows[0].shape[1] * scale, rows[0].shape[2] * scale
    font = ImageFont.load_default(size=caption_px(scale))
    caption_h = caption_px(scale) + 4 if captions else 0
    title_h = caption_px(scale) + 6 if title else 0
    cell_w, cell_h = w + pad, h + caption_h + pad
    sheet = Image.new("RGB" if colour else "L", (n_cols * cell_w + pad, title_h + len(rows) * cell_h + pad),
                      color="white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, 3), title, fill="black", font=font)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            tile_image = Image.fromarray(image).resize((w, h), Image.NEAREST)
            x, y = pad + c * cell_w, title_h + pad + r * cell_h
            sheet.paste(tile_image, (x, y))
            if captions and captions[r][c]:
                draw.text((x, y + h + 1), captions[r][c], fill="black", font=font)
    return sheet


def replay_gif(
    replay: np.ndarray,
    rows_above: list[np.ndarray] | None = None,
    captions_above: list[list[str]] | None = None,
    frame_ms: int = 500,
    scale: int = 3,
) -> bytes:
    """A training replay, (epochs + 1, n, H, W[, C]), as an animated GIF that loops: one frame per epoch.

    Each frame shows rows_above (e.g. the inputs and targets, the same in every frame)
    over that epoch's reconstructions; frame 0 is the untrained network. The last frame
    is held three times as long, so the end result is seen before the loop restarts.
    """
    replay = np.asarray(replay, np.float32)
    rows_above = list(rows_above or [])
    captions = [*captions_above, [""] * replay.shape[1]] if captions_above else None
    last = len(replay) - 1
    frames = []
    for epoch, recon in enumerate(replay):
        title = "before training" if epoch == 0 else f"after epoch {epoch} of {last}"
        frames.append(_sheet([*rows_above, recon], captions, scale, pad=6, title=title))
    buffer = io.BytesIO()
    durations = [frame_ms] * last + [frame_ms * 3]
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return buffer.getvalue()
