"""The Compare page's pieces: one row per stored run, with its bottleneck as its architecture's spec gives it."""

from __future__ import annotations

import pandas as pd

from aecore.config import ConfigError, RunConfig
from aecore.data import IMAGE_SHAPE
from aecore.models import get_spec

COLUMNS = ["run", "architecture", "dataset", "epochs", "parameters", "bottleneck", "bottleneck size",
           "test MSE (per pixel)", "test BCE (nats per pixel)", "PSNR (dB)", "training time (s)", "trained at", "key"]


def runs_table(entries: list[dict]) -> pd.DataFrame:
    """One row per stored run (run.json dicts), labelled uniquely, with units in the column names."""
    rows = []
    for entry in entries:
        try:
            config = RunConfig.from_dict(entry["config"])
        except (ConfigError, TypeError):  # an architecture this server no longer has, or an older entry's fields
            continue
        m = entry.get("metrics", {})
        # Runs stored before their input shape was recorded: MNIST's, what nearly all of them trained on.
        shape, size = get_spec(config.arch).bottleneck(config, tuple(entry.get("input_shape") or IMAGE_SHAPE))
        denoising = f" · noise {config.noise:g}" if config.noise else ""
        rows.append({
            "run": f"{config.arch} · {config.epochs} ep · {shape}{denoising}",
            "architecture": config.arch,
            "dataset": config.dataset,
            "epochs": config.epochs,
            "parameters": entry.get("parameters"),
            "bottleneck": shape,
            "bottleneck size": size,
            "test MSE (per pixel)": m.get("test_mse"),
            "test BCE (nats per pixel)": m.get("test_bce"),
            "PSNR (dB)": m.get("test_psnr"),
            "training time (s)": m.get("seconds"),
            "trained at": pd.to_datetime(entry.get("trained_at", 0), unit="s"),
            "key": entry["key"],
        })
    table = pd.DataFrame(rows, columns=COLUMNS)
    if len(table):
        # Two runs that differ only in, say, learning rate get their key's start appended.
        repeated = table["run"].duplicated(keep=False)
        table.loc[repeated, "run"] += " · " + table.loc[repeated, "key"].str[:4]
    return table
