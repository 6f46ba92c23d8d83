"""The loaded data and its derived forms, built once per data version and shared by pages."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from flask import current_app

from geo.collections import Collection, build_collections
from geo.load import Dataset
from geo.spatial import counts_by_district


@dataclass
class State:
    dataset: Dataset
    collections: dict[str, Collection]
    counts: object    # DataFrame: products per district by stars
    _cache: dict = field(default_factory=dict)
    _lru: OrderedDict = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    lru_size: int = 256

    @property
    def version(self) -> str:
        return self.dataset.version

    @property
    def products(self):
        """Products with spatial_district_code and district_check."""
        return self.collections["products"].frame

    def cached(self, key: tuple, build: Callable[[], object]):
        """Compute once per key (the data version is part of every key via this State)."""
        hit = self._cache.get(key)
        if hit is None:
            with self._lock:
                hit = self._cache.get(key)
                if hit is None:
                    hit = self._cache[key] = build()
        return hit


    def cached_bounded(self, key: tuple, build: Callable[[], object]):
        """Like `cached`, for keys that come from query strings: only the newest
        `lru_size` are kept, so no series of requests can grow memory without end."""
        with self._lock:
            hit = self._lru.get(key)
            if hit is not None:
                self._lru.move_to_end(key)
                return hit
        value = build()
        with self._lock:
            self._lru[key] = value
            while len(self._lru) > self.lru_size:
                self._lru.popitem(last=False)
        return value


def build_state(dataset: Dataset) -> State:
    collections = build_collections(dataset)
    counts = counts_by_district(collections["products"].frame, dataset.districts["code"])
    return State(dataset=dataset, collections=collections, counts=counts)


def state() -> State:
    return current_app.extensions["ocop"]
