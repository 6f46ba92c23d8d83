"""Planning and committing an import: merge its rows into the current data file, load the whole
dataset with that change on a temporary copy (nothing invalid is ever written), and write it
through geo/store.Store under its lock (atomic, with history).  `import_file` is the one write
path of the CLI, the admin page and scripts/build_points.py.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .import_diff import Diff, diff_features
from .import_report import ID_FIELD, KIND_FILE, Import, Problem
from .load import FILES, DataError, load_dataset


def dump_collection(features: list[dict]) -> bytes:
    """The data files' own layout (as scripts/build_points.py writes them)."""
    fc = {"type": "FeatureCollection", "features": features}
    return (json.dumps(fc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def merge(existing: list[dict], new: list[dict], id_field: str, replace: bool) -> list[dict]:
    """New ids added, existing ids replaced (or only the new rows with replace=True)."""
    if replace:
        merged = list(new)
    else:
        by_id = {f["properties"].get(id_field): f for f in existing}
        for f in new:
            by_id[f["properties"][id_field]] = f
        merged = list(by_id.values())
    return sorted(merged, key=lambda f: str(f["properties"].get(id_field)))


def plan_import(data_dir: str | Path, imp: Import, replace: bool = False
                ) -> tuple[dict[str, bytes], list[Problem]]:
    """The new bytes of the data file, checked with the whole dataset; or the problems."""
    data_dir = Path(data_dir)
    if not imp.ok:
        return {}, imp.errors
    rel = KIND_FILE[imp.kind]
    existing = json.loads((data_dir / rel).read_text(encoding="utf-8"))["features"]
    merged = merge(existing, imp.features, ID_FIELD[imp.kind], replace)
    data = dump_collection(merged)
    problems = check_with(data_dir, {rel: data})
    return ({rel: data} if not problems else {}), problems


def check_with(data_dir: Path, changes: dict[str, bytes]) -> list[Problem]:
    """Load the whole dataset with `changes` applied, in a temporary copy."""
    with tempfile.TemporaryDirectory(prefix="ocop-check-") as tmp:
        tmp = Path(tmp)
        for rel in FILES.values():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            if rel in changes:
                (tmp / rel).write_bytes(changes[rel])
            elif (data_dir / rel).is_file():
                shutil.copyfile(data_dir / rel, tmp / rel)
        try:
            load_dataset(tmp)
        except DataError as e:
            return [Problem(None, None, f"the data after the import would be invalid: {p}")
                    for p in e.problems]
    return []


@dataclass
class Outcome:
    imp: Import
    problems: list[Problem]           # everything to report (warnings too)
    version: str | None = None        # the new data version when applied
    previous: str | None = None
    added: int = 0
    replaced: int = 0
    diff: Diff | None = None          # what it changes, record by record (geo/import_diff.py)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def import_file(data_dir: str | Path, path: str | Path, kind: str | None = None,
                crs: str | None = None, repair: bool = False, replace: bool = False,
                apply: bool = True, progress=None, note: str = "",
                sheet: str | None = None) -> Outcome:
    """Check a file and, when `apply` and there is no error, write it in (all or nothing)."""
    from .store import Store
    from .importer import read_import  # geo/importer.py imports this module: import late

    data_dir = Path(data_dir)
    imp = read_import(path, data_dir, kind=kind, crs=crs, repair=repair, progress=progress,
                      sheet=sheet)
    out = Outcome(imp, list(imp.problems))
    if not imp.ok:
        return out
    rel = KIND_FILE[imp.kind]
    store = Store(data_dir)

    def plan():
        changes, problems = plan_import(data_dir, imp, replace=replace)
        current = json.loads((data_dir / rel).read_text(encoding="utf-8"))["features"]
        existing = {f["properties"].get(ID_FIELD[imp.kind]) for f in current}
        if rel in changes:
            out.diff = diff_features(current, json.loads(changes[rel])["features"],
                                     ID_FIELD[imp.kind])
        ids = [f["properties"][ID_FIELD[imp.kind]] for f in imp.features]
        out.replaced = sum(i in existing for i in ids)
        out.added = len(ids) - out.replaced
        return changes, problems

    if not apply:
        out.problems.extend(plan()[1])
        return out
    with store.lock():
        changes, problems = plan()      # again under the lock: the data may have changed
        out.problems.extend(problems)
        if problems:
            return out
        out.previous = store.current_version()
        out.version = store.commit(changes, note=note or f"{Path(path).name}: "
                                   f"{out.added} added, {out.replaced} replaced")
    return out
