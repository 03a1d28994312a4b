"""The benchmark: aecore against plain Keras, side by side. Run it as `python -m benchmarks [--quick] [--app]`.

Not part of the installed `aecore` package: it needs the repository (the app, `tools/`) and
trains reference networks that users never need.

Training throughput of stacked, conv (width 1.0, the notes' network) and vae is measured in
one process, on the same data (mnist-sample) and batch size, against a reference of the same
network written the way the tutorials write it (`reference.py`). Then the test loss of both,
decode latency (the slider path and the manifold grid), time from a cached run request to a
ready model, peak memory and seconds of training each default config, and `import aecore`
time. `--app` measures `streamlit run app.py` instead.

Modules: `report` (a figure, the table, the JSON lines), `api` (every aecore name used here,
in one place), `reference` (the plain-Keras networks), `training`, `inference` (decode
latency and cached runs), `footprint` (fresh processes: memory, seconds, import time), `app`,
and `child` (runs a named function of these modules in a fresh Python).

Output: a table on stdout, then one JSON line per figure with `name`, `value`, `unit`, and
`reference` and `ratio` where there is a reference. The machine has 2 cores that others may
share: ratios from one run are the numbers to trust, absolute numbers less.
"""
