"""Build the point layers from the curated tables, through the importer's one write path.

    data/sources/destinations.csv  ->  data/destinations.geojson
    data/sources/products.csv      ->  data/products.geojson

Each table is imported as `flask --app app ocop import FILE --replace` would: every row
validated (the same rules as any official's import), placed by its commune (else district)
with `vietnamadminunits`, given its 2025 unit, and the file written atomically under the data
lock with the previous version kept in data/.history (undo with `ocop rollback`).  A table
with an error changes nothing and the script exits non-zero naming the row and the field.

Run from the repository root with the requirements installed:

    python scripts/build_points.py            # both tables
    python scripts/build_points.py products   # one
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.importer import import_file  # noqa: E402

SOURCES = ROOT / "data" / "sources"
KINDS = ("destinations", "products")


def build(data_dir: Path, kinds=KINDS, sources: Path = SOURCES) -> int:
    status = 0
    for kind in kinds:
        path = sources / f"{kind}.csv"
        out = import_file(data_dir, path, kind=kind, replace=True,
                          note=f"build from data/sources/{kind}.csv")
        warnings = [p for p in out.problems if p.severity == "warning"]
        print(f"{path.name}: {len(out.imp.features)} rows, {len(warnings)} warning(s)")
        for p in out.problems:
            print(f"  {p}")
        if not out.ok or out.version is None:
            print(f"{kind}: nothing was changed", file=sys.stderr)
            status = 1
            continue
        print(f"{kind}: data version {out.version} (before: {out.previous})")
    return status


if __name__ == "__main__":
    wanted = tuple(sys.argv[1:]) or KINDS
    unknown = set(wanted) - set(KINDS)
    if unknown:
        sys.exit(f"unknown table(s) {sorted(unknown)}; expected {', '.join(KINDS)}")
    sys.exit(build(ROOT / "data", wanted))
