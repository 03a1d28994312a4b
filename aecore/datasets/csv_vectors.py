"""Uploads of vectors: a .csv of numbers (an optional header, a 'label' column names the classes), read into a
Preview a row at a time: its width checked on the first row, every value finite as float32.
"""

from __future__ import annotations

import csv
import io
import itertools
import math

import numpy as np

from aecore import limits
from aecore.datasets.preview import N_EXAMPLES, Preview, choose, make_preview, shown, split_upload
from aecore.errors import DataError


def read_csv(filename, content, budget, subsample) -> Preview:
    # Parsed, every cell is a Python string in a list: refuse a file too big for that from its bytes alone.
    # No row has more cells than its commas plus one, so commas plus lines bounds the cells.
    lines = max(content.count(b"\n"), content.count(b"\r")) + 1
    cells = content.count(b",") + lines
    if cells > limits.MAX_CSV_CELLS:
        raise DataError(f"'{filename}' has up to {cells:,} cells; the limit is {limits.MAX_CSV_CELLS:,}.")
    # Rows are read one at a time, twice (their shape and labels, then the numbers of those kept), so memory
    # holds one row's strings and the float32 examples, never the whole file as strings.
    rows = _rows(filename, content)
    first = next(rows, None)
    if first is None:
        raise DataError(f"'{filename}' holds no rows.")
    header = [cell.strip() for cell in first] if any(not _is_number(cell) for cell in first) else None
    width = len(first)
    label_col = None
    if header:
        lower = [h.lower() for h in header]
        label_col = lower.index("label") if "label" in lower else None
    dim = width - (label_col is not None)
    # From the first row alone, before the rest is parsed.
    if not 1 <= dim <= limits.MAX_VECTOR_DIM:
        raise DataError(f"Rows of '{filename}' must have 1 to {limits.MAX_VECTOR_DIM} numbers, got {dim}.")
    offset = 2 if header else 1  # the row number of the first example, for messages (the header is row 1)
    label_cells = []
    n = 0
    for row in itertools.chain(() if header else [first], rows):
        if len(row) != width:
            raise DataError(f"Row {offset + n} of '{filename}' has {len(row)} cells but the first row has {width}.")
        if label_col is not None:
            label_cells.append(row[label_col].strip())
            if not label_cells[-1]:
                raise DataError(f"Row {offset + n} of '{filename}' has no label; label every row or none.")
        n += 1
        if n > limits.MAX_EXAMPLES:
            raise DataError(f"'{filename}' has more than {limits.MAX_EXAMPLES:,} rows; the limit is "
                            f"{limits.MAX_EXAMPLES:,}.")
    if n < 2:
        raise DataError(f"'{filename}' holds {n} row; a dataset needs at least 2 (one to train, one to test).")
    names, labels = None, None
    if label_col is not None:
        distinct = set(label_cells)
        if len(distinct) > limits.MAX_CLASSES:
            raise DataError(f"The label column of '{filename}' has {len(distinct):,} different labels; the limit "
                            f"is {limits.MAX_CLASSES:,} classes.")
        # Whole-number labels keep their numbers' order; other labels sort as text.
        names = tuple(sorted(distinct, key=lambda s: (0, int(s), s) if _is_int(s) else (1, 0, s)))
        code = {s: k for k, s in enumerate(names)}
        labels = np.array([code[s] for s in label_cells], np.int64)
    per_example = dim * 4
    chosen, fits = choose(n, per_example, budget, subsample)
    x = np.empty((len(chosen), dim), np.float32)
    wanted = iter(chosen.tolist())  # sorted
    out, next_row = 0, next(wanted, None)
    examples = itertools.islice(_rows(filename, content), 1 if header else 0, None)
    for i, row in enumerate(examples):
        if i != next_row:
            continue
        x[out] = _numbers(filename, offset + i, row, header, label_col)
        out, next_row = out + 1, next(wanted, None)
        if next_row is None:
            break
    value_range = (float(x.min()), float(x.max()))
    dataset = split_upload(filename, x, None if labels is None else labels[chosen])
    return make_preview(filename, "csv", dataset if fits else None, n, value_range, names, labels, budget, content,
                    examples=x[:N_EXAMPLES], full_bytes=n * per_example)


# A row holds at most MAX_VECTOR_DIM numbers and a label; quoted cells may hold commas of their own, so a row is
# cut off only well past that, before csv makes a string of each of its cells.
_MAX_ROW_COMMAS = 2 * (limits.MAX_VECTOR_DIM + 1)


def _rows(filename: str, content: bytes):
    """The CSV's rows that hold something, one at a time; DataError for a row too long to be one, or bad CSV."""
    since_last_row = [0]  # commas read since the last row was made; a quoted cell may span lines

    def lines():
        # Decoded as it is read, a line at a time (split at \n, \r\n and \r alike, each kept for csv): the file
        # is never held again as one string.
        for line in io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline=""):
            since_last_row[0] += line.count(",")
            if since_last_row[0] > _MAX_ROW_COMMAS:
                raise DataError(f"'{filename}' has a row of more than {_MAX_ROW_COMMAS + 1:,} cells; rows must have "
                                f"1 to {limits.MAX_VECTOR_DIM} numbers and may have a label.")
            yield line

    reader = csv.reader(lines())
    try:
        for row in reader:
            since_last_row[0] = 0
            if any(cell.strip() for cell in row):
                yield row
    except csv.Error as exc:  # a NUL character, a cell longer than csv's field limit, an unclosed quote
        raise DataError(f"Line {reader.line_num} of '{filename}' is not valid CSV ({str(exc).rstrip('.')}).") from None
    except UnicodeDecodeError:
        raise DataError(f"'{filename}' is not UTF-8 text, so it is not a CSV file.") from None


def _numbers(filename: str, number: int, row: list[str], header: list[str] | None, label_col: int | None):
    """One row's numbers as float32; DataError naming the first cell that is no number, or none in float32."""
    values = []
    for col, cell in enumerate(row):
        if col == label_col:
            continue
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(f"Row {number}, column '{_column(header, col)}' of '{filename}' holds "
                            f"'{shown(cell.strip())}', not a number.")
        values.append(value)
    with np.errstate(over="ignore"):
        x = np.array(values, np.float32)
    if not np.isfinite(x).all():  # finite as a Python float, past float32's range (about 3.4e38)
        col = [c for c in range(len(row)) if c != label_col][int(np.argmin(np.isfinite(x)))]
        raise DataError(f"Row {number}, column '{_column(header, col)}' of '{filename}' holds "
                        f"'{shown(row[col].strip())}', beyond the range of 32-bit floats (±{limits.FLOAT32_MAX:.1e}).")
    return x


def _column(header: list[str] | None, col: int) -> str:
    return shown(header[col]) if header else str(col + 1)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_int(s: str) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return True
