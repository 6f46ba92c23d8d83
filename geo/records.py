"""Rows of a GeoDataFrame as plain Python: pandas' NaN and numpy scalars become None/int/float.

pandas stores a missing int as NaN and a present one as a float; every page and export reads
rows through here so none of them shows "nan" or "3.0".
"""
from __future__ import annotations

import math

import numpy as np


def plain(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


def plain_records(frame, columns=None) -> list[dict]:
    """Property dicts (no geometry) of every row, in order."""
    cols = list(columns) if columns is not None else [c for c in frame.columns
                                                     if c != frame.geometry.name]
    return [{k: plain(v) for k, v in rec.items()} for rec in frame[cols].to_dict("records")]
