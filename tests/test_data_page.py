"""The Your data page (AppTest): an upload is shown before it is stored, bad files are one sentence and store
nothing, and a stored dataset appears in the architecture pages' Dataset select."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aecore.datasets import DataError, catalogue, library, uploads
from tests.helpers import BAD_INPUTS, assert_clean, open_link, open_page, texts


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def colour_zip(n_per_class: int = 6, side: int = 32) -> bytes:
    """A zip of side x side RGB PNGs, a folder per class (red-ish and blue-ish)."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label, channel in (("blue", 2), ("red", 0)):
            for i in range(n_per_class):
                image = rng.integers(0, 60, (side, side, 3), dtype=np.uint8)
                image[..., channel] = 200
                archive.writestr(f"{label}/{i}.png", _png(image))
    return buffer.getvalue()


def vectors_csv(n: int = 40, dim: int = 5) -> bytes:
    rng = np.random.default_rng(1)
    rows = [",".join([f"x{i}" for i in range(dim)] + ["label"])]
    rows += [",".join(f"{v:.4f}" for v in rng.normal(size=dim)) + f",{i % 2}" for i in range(n)]
    return "\n".join(rows).encode()


def upload(at, name: str, content: bytes):
    at.file_uploader(key="data.upload").set_value((name, content, "application/octet-stream")).run()
    assert_clean(at)
    return at


def test_a_zip_of_colour_images_is_shown_then_stored_and_offered_on_the_pages():
    at = upload(open_page("data"), "swatches.zip", colour_zip())
    shown = {m.label: m.value for m in at.metric}
    assert shown["Examples"] == "12" and shown["Each example"] == "32 × 32 × 3" and shown["Classes"] == "2"
    assert shown["Memory (float32)"].endswith(" MiB")
    assert at.text_input[0].value == "swatches"
    assert library.stored_datasets() == []  # nothing stored before the user agrees
    at.button(key="FormSubmitter:data.store-Store the dataset").click().run()
    assert_clean(at)
    assert library.stored_datasets() == ["swatches"]
    assert any("Stored as **swatches**" in s for s in texts(at.success))
    (link,) = [link.proto for link in at.get("page_link") if link.proto.label.endswith("on it")]
    assert (link.page, link.query_string) == ("conv", "dataset=swatches")  # images: the convolutional page

    conv = open_link("conv", {"dataset": "swatches"})  # where the link goes: its form set to the dataset
    assert conv.selectbox(key="form.conv.dataset").value == "swatches"


def test_a_stored_dataset_can_be_deleted_and_is_no_longer_offered():
    library.accept(vectors_csv(), "keep", filename="keep.csv")
    library.accept(vectors_csv(n=42), "drop", filename="drop.csv")
    stored = library.entry("drop").path
    at = open_page("data")
    at.selectbox(key="data.delete.name").set_value("drop").run()
    at.button(key="data.delete.confirm").click().run()
    assert_clean(at)
    assert library.stored_datasets() == ["keep"] and not stored.exists()
    assert "drop" not in open_page("stacked").selectbox(key="form.stacked.dataset").options
    with pytest.raises(DataError, match="no stored dataset named 'drop'"):
        library.remove("drop")


def test_a_csv_of_vectors_is_shown_and_its_link_goes_to_the_stacked_page():
    at = upload(open_page("data"), "sensors.csv", vectors_csv())
    shown = {m.label: m.value for m in at.metric}
    assert shown["Each example"] == "5" and shown["Classes"] == "2" and shown["Examples"] == "40"
    assert len(at.dataframe) >= 1
    at.button(key="FormSubmitter:data.store-Store the dataset").click().run()
    assert_clean(at)
    (link,) = [link.proto for link in at.get("page_link") if link.proto.label.endswith("on it")]
    assert (link.page, link.query_string) == ("stacked", "dataset=sensors")


def test_a_new_file_replaces_the_preview():
    at = upload(open_page("data"), "swatches.zip", colour_zip())
    at = upload(at, "sensors.csv", vectors_csv())
    assert [m.value for m in at.metric if m.label == "Each example"] == ["5"]
    assert [key for key in at.session_state.keys() if key.startswith("data.preview")] == ["data.preview"]


def test_the_limits_are_in_mib():
    at = open_page("data")
    (limits,) = [c for c in texts(at.caption) if c.startswith("Accepted: ")]
    assert "MiB" in limits and " MB" not in limits, limits


def test_a_file_named_like_a_built_in_is_offered_another_name():
    at = upload(open_page("data"), "npz.csv", vectors_csv())
    assert at.text_input[0].value == "my-npz"
    catalogue.check_name(at.text_input[0].value)


# Only the files the uploader takes (UPLOAD_TYPES): it refuses other names before the page sees them.
ACCEPTED_BAD_INPUTS = {case: make for case, (make, _) in BAD_INPUTS.items()
                       if case not in ("random bytes", "a png alone", "text not named .csv")}


@pytest.mark.parametrize("make", ACCEPTED_BAD_INPUTS.values(), ids=ACCEPTED_BAD_INPUTS.keys())
def test_each_bad_upload_is_its_one_sentence_and_stores_nothing(make, monkeypatch):
    filename, content = make(monkeypatch) if make.__code__.co_argcount else make()
    assert Path(filename).suffix[1:] in uploads.UPLOAD_TYPES, filename
    with pytest.raises(DataError) as caught:
        uploads.inspect(filename, content)
    at = upload(open_page("data"), filename, content)
    assert texts(at.error) == [str(caught.value)]
    assert not at.metric  # no preview, no store button


def test_a_clashing_name_is_one_sentence_and_stores_nothing():
    at = upload(open_page("data"), "swatches.zip", colour_zip())
    at.text_input[0].set_value("mnist-sample")
    at.button(key="FormSubmitter:data.store-Store the dataset").click().run()
    assert_clean(at)
    assert len(at.error) == 1 and "built-in" in at.error[0].value
    assert library.stored_datasets() == []
