"""A figure of the benchmark, and the two ways it is printed: a table row and one JSON line."""

from __future__ import annotations

import json
import math
import statistics
import sys
from dataclasses import dataclass, field


@dataclass
class Figure:
    """One measured number; `reference` is plain Keras' number for the same thing, when there is one."""

    name: str
    value: float | None
    unit: str
    reference: float | None = None
    ratio: float | None = None
    note: str = ""
    target: str = ""
    extra: dict = field(default_factory=dict)

    def line(self) -> str:
        """Strict JSON (a figure that could not be measured is null, never NaN)."""
        d = {"name": self.name, "value": rounded(self.value), "unit": self.unit}
        if self.reference is not None:
            d["reference"] = rounded(self.reference)
        if self.ratio is not None:
            d["ratio"] = rounded(self.ratio, 3)
        if self.target:
            d["target"] = self.target
        if self.note:
            d["note"] = self.note
        d.update(self.extra)
        return json.dumps(d, allow_nan=False)


def compared(name: str, value: float, unit: str, reference: float, **kwargs) -> Figure:
    """A figure with its reference and their ratio."""
    return Figure(name, value, unit, reference, value / reference if reference else None, **kwargs)


def rounded(x, digits: int = 4):
    """x to `digits` significant digits (None for a missing or non-finite number)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(f"{x:.{digits}g}") if abs(x) < 10**digits else round(x, 1)


def median(xs) -> float:
    """The median of the finite values (NaN when there are none)."""
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return statistics.median(xs) if xs else float("nan")


def percentile(xs, q: float) -> float:
    """The q-th percentile, interpolated linearly (as NumPy's default)."""
    xs = sorted(xs)
    position = (len(xs) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(xs) - 1)
    return xs[low] + (xs[high] - xs[low]) * (position - low)


def log(msg: str) -> None:
    """Progress for the person watching: stderr, so stdout stays the table and the JSON lines."""
    print(msg, file=sys.stderr, flush=True)


def table(figures: list[Figure]) -> str:
    rows = [("figure", "aecore", "reference", "ratio", "unit", "target")]
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None and math.isfinite(f.ratio) else ""
        rows.append((f.name, _cell(f.value), _cell(f.reference), ratio, f.unit, f.target))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    left_aligned = (0, 4, 5)
    lines = [
        "  ".join(c.ljust(w) if i in left_aligned else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:.0f}"
