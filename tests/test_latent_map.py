"""The latent map (issue 24): PCA, t-SNE and the most-variance pair of a run's codes, the bound on t-SNE, thumbnails,
and the latent tab that offers them (AppTest on tiny real runs)."""

import json

import numpy as np
import pytest

import aecore.jobs
from aecore import figures
from aecore import latent_map as LM
from aecore.errors import DataError
from aecore.limits import MAX_TSNE_POINTS
from aecore.metrics import project_2d
from tests.helpers import app_tiny, assert_clean, assert_one_sentence, chart_traces, open_page, open_tab, texts

# --- The projections -----------------------------------------------------------------------------


def _codes(n=120, k=8, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, k)).astype(np.float32)


@pytest.mark.parametrize("method", LM.METHODS)
@pytest.mark.parametrize("shape", [(8,), (3, 3, 4)])  # vectors, and a conv model's maps (flattened)
def test_every_method_draws_every_code_as_one_point(method, shape):
    codes = np.random.default_rng(1).normal(size=(60, *shape)).astype(np.float32)
    drawn = LM.latent_map(codes, method)
    assert drawn.points.shape == (60, 2)
    assert np.isfinite(drawn.points).all()
    assert drawn.method == method and len(drawn.axes) == 2


@pytest.mark.parametrize("method", LM.METHODS)
def test_codes_of_two_or_fewer_dimensions_are_drawn_as_they_are(method):
    codes = _codes(k=2)
    drawn = LM.latent_map(codes, method)
    assert drawn.method == "as they are" and drawn.axes == ("latent 1", "latent 2")
    np.testing.assert_array_equal(drawn.points, codes)
    one = LM.latent_map(codes[:, :1], method)
    np.testing.assert_array_equal(one.points[:, 0], codes[:, 0])
    assert (one.points[:, 1] == 0).all()


def test_pca_is_the_projection_every_other_scatter_uses_and_names_its_share_of_variance():
    codes = _codes() * np.linspace(0.5, 3, 8, dtype=np.float32)
    drawn = LM.latent_map(codes, LM.PCA)
    points, label = project_2d(codes)
    np.testing.assert_allclose(drawn.points, points, rtol=1e-5, atol=1e-6)
    assert drawn.name == "PCA" and label.startswith("PCA")
    shares = drawn.projection.pca.explained_variance_ratio_
    assert drawn.axes == (f"PC 1 ({round(shares[0] * 100)} % of variance)",
                          f"PC 2 ({round(shares[1] * 100)} % of variance)")
    # The VAE's ellipses go through these components: a code added later lands where the map put it.
    np.testing.assert_allclose(drawn.projection.transform(codes[:3]), drawn.points[:3], rtol=1e-5, atol=1e-6)


def test_the_most_variance_pair_is_the_two_dimensions_that_vary_most():
    rng = np.random.default_rng(2)
    scale = np.ones(20)
    scale[[16, 2]] = [5.0, 3.0]  # z17 and z3
    codes = rng.normal(size=(500, 20)) * scale
    assert LM.most_variance_pair(codes) == (2, 16)
    drawn = LM.latent_map(codes, LM.PAIR)
    assert drawn.name == "raw pair: z3 and z17" and drawn.axes == ("z3", "z17") and drawn.dims == (2, 16)
    np.testing.assert_allclose(drawn.points, codes[:, [2, 16]])
    # Not simply the largest values: a constant, large dimension does not vary at all.
    codes[:, 0] += 1000
    assert LM.most_variance_pair(codes) == (2, 16)


def test_a_maps_pair_names_its_place_in_the_map():
    codes = np.zeros((50, 2, 2, 3))
    codes[:, 1, 0, 2] = np.linspace(0, 9, 50)  # flattened index 1*6 + 0*3 + 2 = 8: z9
    codes[:, 0, 0, 1] = np.linspace(0, 4, 50)  # index 1: z2
    drawn = LM.latent_map(codes, LM.PAIR)
    assert drawn.name == "raw pair: z2 and z9"
    assert drawn.axes == ("z2 (row 1, column 1, filter 2)", "z9 (row 2, column 1, filter 3)")


def test_tsne_is_seeded_so_the_same_codes_give_the_same_map(monkeypatch):
    codes = _codes(n=80, k=6)
    first, again = LM.tsne_map(codes, seed=0), LM.tsne_map(codes, seed=0)
    np.testing.assert_array_equal(first.points, again.points)
    assert first.axes == ("t-SNE 1", "t-SNE 2")
    assert LM.expected_tsne_seconds(1000) > 0  # the next one's wait, from this one's pace

    asked = {}
    real = LM.TSNEmbedding

    def recorded(**settings):
        asked.update(settings)
        return real(**settings)

    monkeypatch.setattr(LM, "TSNEmbedding", recorded)
    LM.tsne_map(codes, seed=7)
    assert asked["random_state"] == 7 and asked["init"] == "pca" and asked["perplexity"] < len(codes)


def test_tsne_takes_wide_codes_through_their_principal_components():
    codes = np.random.default_rng(3).normal(size=(70, 4, 4, 8))  # 128 numbers each, above TSNE_INPUT_DIMS
    assert LM.tsne_map(codes).points.shape == (70, 2)


@pytest.mark.parametrize("n", [3, 10, 90, 1000, MAX_TSNE_POINTS])
def test_the_perplexity_stays_below_the_number_of_codes(n):
    assert 1 <= LM.tsne_perplexity(n) < n
    assert LM.tsne_perplexity(1000) == 30


def test_tsne_past_its_bound_is_refused_in_one_sentence_before_anything_is_computed(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("t-SNE was computed past its bound")

    monkeypatch.setattr(LM, "TSNEmbedding", forbidden)
    monkeypatch.setattr(LM, "PrincipalComponents", forbidden)
    with pytest.raises(DataError) as refused:
        LM.latent_map(np.zeros((MAX_TSNE_POINTS + 1, 3), np.float32), LM.TSNE)
    message = assert_one_sentence(str(refused.value))
    assert f"{MAX_TSNE_POINTS:,}" in message and f"{MAX_TSNE_POINTS + 1:,}" in message
    with pytest.raises(DataError) as too_few:
        LM.tsne_map(np.zeros((2, 3)))
    assert_one_sentence(str(too_few.value))
    LM.check_tsne_size(MAX_TSNE_POINTS)  # the bound itself is allowed


def test_an_unknown_method_is_refused_in_one_sentence():
    with pytest.raises(DataError) as refused:
        LM.latent_map(_codes(), "UMAP")
    assert_one_sentence(str(refused.value), quoted=True)


def test_the_thumbnails_subset_is_spread_one_per_cell():
    points = np.random.default_rng(4).normal(size=(1000, 2))
    chosen = LM.spread_subset(points, cells=8)
    assert 0 < len(chosen) <= 64 and len(set(chosen.tolist())) == len(chosen)
    assert (np.diff(chosen) > 0).all()
    low, high = points.min(axis=0), points.max(axis=0)
    cell = np.minimum(((points[chosen] - low) / ((high - low) / 8)).astype(int), 7)
    assert len({tuple(c) for c in cell}) == len(chosen)  # never two in one cell
    # Points in one corner and one far away: both are drawn, not only the crowd.
    crowd = np.vstack([np.zeros((500, 2)), [[10.0, 10.0]]])
    assert 500 in LM.spread_subset(crowd).tolist()
    assert len(LM.spread_subset(np.zeros((0, 2)))) == 0


# --- Its figure ----------------------------------------------------------------------------------


def test_the_map_names_its_axes_and_hovers_index_label_and_error():
    points, labels, errors = _codes(50, 2), np.arange(50) % 3, np.linspace(0.01, 0.5, 50)
    fig = figures.latent_scatter_base(points, labels, "PCA", axes=("PC 1 (40 % of variance)", "PC 2 (20 % of "
                                      "variance)"), errors=errors, error_label="MSE per pixel")
    assert fig.layout.xaxis.title.text == "PC 1 (40 % of variance)"
    assert fig.layout.yaxis.title.text == "PC 2 (20 % of variance)"
    for trace in fig.data:
        assert "MSE per pixel" in trace.hovertemplate and "test index" in trace.hovertemplate
        index = np.asarray(trace.customdata)[:, 0].astype(int)  # a selection reads the test index here
        np.testing.assert_allclose(np.asarray(trace.customdata)[:, 1], errors[index])
        assert (labels[index] == int(trace.name)).all()
    assert all(t.type == "scatter" for t in fig.data)


def test_many_points_are_drawn_with_webgl():
    fig = figures.latent_scatter_base(_codes(5000, 2), np.arange(5000) % 10, "t-SNE", axes=("t-SNE 1", "t-SNE 2"))
    assert {t.type for t in fig.data} == {"scattergl"}


def test_thumbnails_are_images_at_their_codes_in_their_labels_colour():
    points = _codes(40, 2)
    images = np.random.default_rng(5).random((40, 8, 8, 1)).astype(np.float32)
    labels = np.arange(40) % 4
    base = figures.latent_scatter_base(points, labels, "latent")
    fig = figures.with_thumbnails(base, points, images, np.array([0, 7, 9]), labels, cells=4)
    assert len(base.layout.images) == 0  # the cached base is left as it was
    assert len(fig.layout.images) == 3
    first = fig.layout.images[0]
    assert first.source.startswith("data:image/png;base64,")
    assert (first.x, first.y) == pytest.approx(tuple(points[0]))
    assert first.sizex == pytest.approx(figures.THUMBNAIL_SCALE * (points[:, 0].max() - points[:, 0].min()) / 4)
    colour = figures.with_thumbnails(base, points, np.random.default_rng(6).random((40, 8, 8, 3)), [1], labels)
    assert len(colour.layout.images) == 1


# --- The latent tab ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _tiny_defaults(monkeypatch):
    monkeypatch.setenv("AECORE_STUDIO_TEST_DEFAULTS", "1")
    monkeypatch.setattr(aecore.jobs, "_shared", None)


def _axes(at) -> tuple[str, str]:
    (chart,) = at.get("plotly_chart")
    layout = json.loads(chart.proto.spec)["layout"]
    return layout["xaxis"]["title"]["text"], layout["yaxis"]["title"]["text"]


def _map_caption(at) -> str:
    (caption,) = [c.value for c in at.main.caption if c.value.startswith("The first ")]
    return caption


def _layout_images(at) -> list:
    (chart,) = at.get("plotly_chart")
    return json.loads(chart.proto.spec)["layout"].get("images", [])


def _latent_tab(arch, cached_runs):
    cached_runs(app_tiny(arch))
    at = open_page(arch)
    assert any(t.startswith("Loaded from cache") for t in texts(at.success)), texts(at.success)
    label = next(t.label for t in at.tabs if t.label in ("Latent space", "Codes"))
    return open_tab(at, arch, label)


def test_the_latent_tab_offers_pca_the_pair_and_thumbnails(cached_runs):
    at = _latent_tab("stacked", cached_runs)  # 32-D codes
    (choice,) = at.button_group
    assert choice.value == LM.PCA and choice.options == list(LM.METHODS)
    x_title, y_title = _axes(at)
    assert x_title.startswith("PC 1 (") and x_title.endswith(" % of variance)") and y_title.startswith("PC 2 (")
    assert "first two principal components" in _map_caption(at)
    hover = chart_traces(at)[0]["hovertemplate"]
    assert "test index" in hover and "MSE per pixel" in hover and "label" in hover
    assert any("Click a point" in c.value for c in at.caption)

    choice.set_value(LM.PAIR).run()
    assert_clean(at)
    x_title, y_title = _axes(at)
    assert x_title.startswith("z") and y_title.startswith("z") and x_title != y_title
    assert "vary most" in _map_caption(at)

    at.toggle(key="stacked.view.latent.thumbnails").set_value(True).run()
    assert_clean(at)
    images = _layout_images(at)
    assert 0 < len(images) <= LM.THUMBNAIL_CELLS ** 2
    assert f"Thumbnails: {len(images)} test images" in _map_caption(at)

    open_tab(at, "stacked", "Training")  # the choice and the toggle outlive a closed tab
    open_tab(at, "stacked", "Latent space")
    assert at.button_group[0].value == LM.PAIR and len(_layout_images(at)) == len(images)


def test_the_latent_tab_draws_a_tsne_of_the_test_codes(cached_runs):
    at = _latent_tab("stacked", cached_runs)
    at.button_group[0].set_value(LM.TSNE).run()
    assert_clean(at)
    assert _axes(at) == ("t-SNE 1", "t-SNE 2")
    caption = _map_caption(at)
    assert "t-SNE" in caption and "mean little" in caption
    points = sum(len(t["x"]) if isinstance(t["x"], list) else 1 for t in chart_traces(at))
    assert points > 0


def test_two_dimensional_codes_offer_no_projection(cached_runs):
    at = _latent_tab("basic", cached_runs)  # 2-D codes of 3-D points
    assert not at.button_group
    assert _axes(at) == ("latent 1", "latent 2")
    assert not [t for t in at.toggle if t.label == "Thumbnails"]  # no images to draw
    assert "as they are" in _map_caption(at)


def test_a_conv_runs_maps_are_drawn_flattened_and_their_pair_named_by_place(cached_runs):
    at = _latent_tab("conv", cached_runs)  # 7 x 7 maps of filters
    assert "maps (" in _map_caption(at) and "numbers each" in _map_caption(at)
    assert _axes(at)[0].startswith("PC 1 (")
    at.button_group[0].set_value(LM.PAIR).run()
    assert_clean(at)
    x_title, y_title = _axes(at)
    assert "(row " in x_title and ", filter " in y_title
