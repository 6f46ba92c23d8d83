"""What an import produces: an `Import` (the features, their source rows, the report) made of
`Problem`s, and the per-kind tables (schema fields, data file, id field, geometry types).

Its own module because every step (read, normalise, place, plan) reports with these types; it
depends on geo/load.py only, so no step imports another just for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .load import DESTINATION_FIELDS, DISTRICT_FIELDS, FILES, PRODUCT_FIELDS


KIND_FIELDS = {"products": PRODUCT_FIELDS, "destinations": DESTINATION_FIELDS,
               "districts": DISTRICT_FIELDS}
KIND_FILE = {"products": FILES["products"], "destinations": FILES["destinations"],
             "districts": FILES["districts"]}
ID_FIELD = {"products": "id", "destinations": "id", "districts": "code"}
GEOM_TYPES = {"products": ("Point",), "destinations": ("Point",),
              "districts": ("Polygon", "MultiPolygon")}


@dataclass(frozen=True)
class Problem:
    row: int | None        # row (CSV/XLSX line) or feature number; None: the whole file
    field: str | None
    reason: str
    severity: str = "error"  # "error" | "warning"
    unit: str = "row"        # "row" (CSV, XLSX: the spreadsheet's line) or "feature"

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"{self.unit} {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{self.severity}: {', '.join(where) + ': ' if where else ''}{self.reason}"


@dataclass
class Import:
    path: Path
    format: str = ""
    kind: str = ""
    crs: str = "EPSG:4326"
    features: list[dict] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)       # source row of each feature
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def report(self) -> str:
        head = (f"{self.path.name}: {self.format or '?'} file, {self.kind or '?'}, "
                f"{len(self.features)} row(s), {len(self.errors)} error(s), "
                f"{len(self.warnings)} warning(s)")
        return "\n".join([head] + [f"  {p}" for p in self.problems])
