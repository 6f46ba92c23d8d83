"""The loaded data and its derived forms, built once per data version and shared by pages."""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import date
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
    as_of: date = field(default_factory=date.today)   # certificate statuses are as of this day
    _cache: dict = field(default_factory=dict)
    _lru: dict = field(default_factory=lambda: defaultdict(OrderedDict))   # pool -> LRU
    # Re-entrant: a value built under `cached` may itself be made of cached parts.
    _lock: threading.RLock = field(default_factory=threading.RLock)
    lru_size: int = 256

    @property
    def version(self) -> str:
        return self.dataset.version

    @functools.cached_property
    def district_codes(self) -> frozenset:
        """Known district codes, for checking filter parameters on every request."""
        return frozenset(self.dataset.districts["code"])

    @functools.cached_property
    def commune_codes(self) -> frozenset:
        """The 2025 units' codes, for checking `commune=` on every request."""
        return frozenset(self.dataset.communes["code"])

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


    def cached_bounded(self, key: tuple, build: Callable[[], object], pool: str = "queries"):
        """Like `cached`, for keys that come from query strings or the Host: only the newest
        `lru_size` of each pool are kept, so no series of requests can grow memory without
        end.  Pools (a few, named in code) keep a crawler reading every product page from
        pushing out the OGC API's and the downloads' answers."""
        with self._lock:
            lru = self._lru[pool]
            hit = lru.get(key)
            if hit is not None:
                lru.move_to_end(key)
                return hit
        value = build()
        with self._lock:
            lru[key] = value
            while len(lru) > self.lru_size:
                lru.popitem(last=False)
        return value


def build_state(dataset: Dataset, today: date | None = None) -> State:
    today = today or date.today()
    collections = build_collections(dataset, today)
    counts = counts_by_district(collections["products"].frame, dataset.districts["code"])
    return State(dataset=dataset, collections=collections, counts=counts, as_of=today)


def state() -> State:
    return current_app.extensions["ocop"]


# -- picking up a new data version without a restart ----------------------------------------
# An import (`flask --app app ocop import`, /admin) replaces data files atomically.  Before a
# request, at most once per CHECK_EVERY seconds per process, the files' (inode, mtime, size)
# are compared with what the State was built from; when they differ and the data version
# (the files' hash) changed, the data is loaded and validated again and the new State
# replaces the old one.  Pages and downloads cache on the State, so they follow.  Data that
# fails validation is not served: the old State stays and the problem is logged.

CHECK_EVERY = 1.0


def _fingerprint(data_dir) -> tuple:
    import os
    from pathlib import Path

    from geo.load import FILES

    out = []
    for rel in sorted(FILES.values()):
        try:
            st = os.stat(Path(data_dir) / rel)
            out.append((rel, st.st_ino, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((rel, None))
    return tuple(out)


def data_written_at(data_dir) -> float | None:
    """When the data files were last written (the newest of their mtimes, epoch seconds)."""
    times = [entry[2] for entry in _fingerprint(data_dir) if entry[1] is not None]
    return max(times) / 1e9 if times else None


def refresh_state(app=None, force: bool = False) -> bool:
    """Rebuild the State if the data files changed; True when a new State was installed."""
    import time

    app = app or current_app._get_current_object()
    watch = app.extensions.get("ocop_watch")     # called on every request: no allocation
    if watch is None:
        watch = app.extensions.setdefault("ocop_watch", {"fp": None, "checked": 0.0,
                                                         "lock": threading.Lock()})
    now = time.monotonic()
    if not force and now - watch["checked"] < CHECK_EVERY:
        return False

    from geo.load import DataError, data_version, load_dataset

    if not watch["lock"].acquire(blocking=force):
        return False            # another thread is checking; serve the current State
    try:
        watch["checked"] = now
        data_dir = app.config["DATA_DIR"]
        fp = _fingerprint(data_dir)
        current = app.extensions["ocop"]
        if current.as_of != date.today():
            # A new day: certificates may have ended.  Same files, so the same data version;
            # the pages' ETags follow their bytes, and the map's versioned scripts are
            # revalidated daily (see web/maps.py).
            app.extensions["ocop"] = build_state(current.dataset)
            return True
        if fp == watch["fp"]:
            return False
        try:
            if data_version(current.dataset.data_dir) == current.version and \
                    str(current.dataset.data_dir) == str(data_dir):
                watch["fp"] = fp
                return False
            dataset = load_dataset(data_dir)
        except (DataError, OSError) as e:
            app.logger.error("new data not loaded, still serving version %s: %s",
                             current.version, e)
            watch["fp"] = fp
            return False
        # The previous version stays at hand: a page served by it (here, or by a worker that
        # has not noticed the new files yet) still fetches its versioned script and popups.
        app.extensions["ocop_previous"] = current
        app.extensions["ocop"] = build_state(dataset)
        watch["fp"] = fp
        app.logger.info("data version %s loaded (was %s)", dataset.version, current.version)
        return True
    finally:
        watch["lock"].release()


def state_of_version(version: str) -> State | None:
    """The State that serves data version `version`: the current one; else, after checking
    the files at once, the new current one (another worker may have seen new files first and
    sent a page naming them); else the previous one (a page served just before a change).
    None for any other version."""
    app = current_app._get_current_object()
    st = app.extensions["ocop"]
    if st.version == version:
        return st
    refresh_state(app, force=True)
    st = app.extensions["ocop"]
    if st.version == version:
        return st
    previous = app.extensions.get("ocop_previous")
    return previous if previous is not None and previous.version == version else None

