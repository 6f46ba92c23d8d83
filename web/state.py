"""The loaded data and its derived forms, built once per data version and shared by pages."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from flask import current_app

from geo.load import Dataset
from geo.spatial import counts_by_district, locate_districts


@dataclass
class State:
    dataset: Dataset
    products: object  # GeoDataFrame with spatial_district_code and district_check
    counts: object    # DataFrame: products per district by stars
    _cache: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def version(self) -> str:
        return self.dataset.version

    def cached(self, key: tuple, build: Callable[[], object]):
        """Compute once per key (the data version is part of every key via this State)."""
        hit = self._cache.get(key)
        if hit is None:
            with self._lock:
                hit = self._cache.get(key)
                if hit is None:
                    hit = self._cache[key] = build()
        return hit


def build_state(dataset: Dataset) -> State:
    products = locate_districts(dataset.products, dataset.districts)
    counts = counts_by_district(products, dataset.districts["code"])
    return State(dataset=dataset, products=products, counts=counts)


def state() -> State:
    return current_app.extensions["ocop"]
