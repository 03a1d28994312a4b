"""The Compare page's pieces: one row per stored run, and bottleneck sizes in the notes' terms."""

from __future__ import annotations

import pandas as pd

from aecore.config import RunConfig


def bottleneck(config: RunConfig) -> tuple[str, int]:
    """(shape as text, number of values) of a run's code; the conv code is a 7 x 7 feature map."""
    if config.arch == "conv":
        filters = max(1, round(config.latent_dim * config.width))  # as aecore.models.conv scales it
        return f"7x7x{filters}", 49 * filters
    return str(config.latent_dim), config.latent_dim


def runs_table(entries: list[dict]) -> pd.DataFrame:
    """One row per stored run (run.json dicts), labelled uniquely, with units in the column names."""
    rows = []
    for entry in entries:
        config = RunConfig.from_dict(entry["config"])
        m = entry.get("metrics", {})
        shape, size = bottleneck(config)
        denoising = f" · noise {config.noise:g}" if config.noise else ""
        rows.append({
            "run": f"{config.arch} · {config.epochs} ep · {shape}{denoising}",
            "architecture": config.arch,
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
    table = pd.DataFrame(rows)
    if len(table):
        # Two runs that differ only in, say, learning rate get their key's start appended.
        repeated = table["run"].duplicated(keep=False)
        table.loc[repeated, "run"] += " · " + table.loc[repeated, "key"].str[:4]
    return table
