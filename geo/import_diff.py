"""What an import would change, for review before it is applied: the records it adds and
removes, each changed field old -> new, and the points it moves (with how far), as text for
`ocop check --diff` and /admin, and as a small map (SVG, drawn offline like the handbook's).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from pyproj import Geod

_GEOD = Geod(ellps="WGS84")
MOVE_TOLERANCE_M = 0.5     # less than this is rounding, not a move
SHOWN_VALUE = 80           # characters of a long value shown in a change line


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass
class Changed:
    id: str
    name: str
    fields: list[FieldChange]
    moved_m: float | None = None            # a point's move, in metres
    old_xy: tuple[float, float] | None = None
    new_xy: tuple[float, float] | None = None
    geometry_changed: bool = False          # a polygon's outline


@dataclass
class Diff:
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    @property
    def moved(self) -> list[Changed]:
        return [c for c in self.changed if c.moved_m is not None]

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.removed)} removed, "
                f"{len(self.changed)} changed ({len(self.moved)} moved)")

    def lines(self, id_field: str = "id") -> list[str]:
        """The review as text: one line per added or removed record, one per changed field."""
        out = [self.summary()]
        for f in self.added:
            out.append(f"+ {_label(f, id_field)}")
        for f in self.removed:
            out.append(f"- {_label(f, id_field)}")
        for c in self.changed:
            out.append(f"~ {c.id} ({c.name})")
            for fc in c.fields:
                out.append(f"    {fc.field}: {_shown(fc.old)} -> {_shown(fc.new)}")
            if c.moved_m is not None:
                out.append(f"    position: moved {c.moved_m:,.0f} m")
            elif c.geometry_changed:
                out.append("    geometry: changed")
        return out


def _label(f: dict, id_field: str) -> str:
    p = f.get("properties") or {}
    name = p.get("name") or p.get("full_name") or ""
    return f"{p.get(id_field)} ({name})" if name else str(p.get(id_field))


def _shown(v: Any) -> str:
    if v is None or v == "":
        return "(empty)"
    text = v if isinstance(v, str) else repr(v)
    return text if len(text) <= SHOWN_VALUE else text[:SHOWN_VALUE - 1] + "…"


def _point(f: dict) -> tuple[float, float] | None:
    g = f.get("geometry") or {}
    if g.get("type") == "Point":
        x, y = g["coordinates"][:2]
        return float(x), float(y)
    return None


def diff_features(old: list[dict], new: list[dict], id_field: str) -> Diff:
    """Compare two versions of a collection by id (pure: no files)."""
    before = {f["properties"].get(id_field): f for f in old}
    after = {f["properties"].get(id_field): f for f in new}
    d = Diff(added=[after[i] for i in after if i not in before],
             removed=[before[i] for i in before if i not in after])
    for i in after:
        if i not in before:
            continue
        a, b = before[i]["properties"], after[i]["properties"]
        fields = [FieldChange(k, a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b])
                  if a.get(k) != b.get(k) and not (a.get(k) in (None, "", []) and
                                                   b.get(k) in (None, "", []))]
        c = Changed(str(i), str(b.get("name") or b.get("full_name") or ""), fields)
        p, q = _point(before[i]), _point(after[i])
        if p and q:
            metres = _GEOD.inv(p[0], p[1], q[0], q[1])[2]
            if metres > MOVE_TOLERANCE_M:
                c.moved_m, c.old_xy, c.new_xy = metres, p, q
        elif before[i].get("geometry") != after[i].get("geometry"):
            c.geometry_changed = True
        if c.fields or c.moved_m is not None or c.geometry_changed:
            d.changed.append(c)
    return d


# Colours of the review map: added, moved (old -> new), removed.
ADDED, MOVED, REMOVED = "#2b8a3e", "#e8590c", "#c92a2a"


def diff_map_svg(districts, diff: Diff, view=None) -> str | None:
    """The points an import adds, moves (a line from the old place) or removes, over the
    former districts' outlines, framed on `view` (the region's first view: far islands would
    shrink the rest) widened to every point; None when no point is added, moved or removed."""
    added = [p for p in map(_point, diff.added) if p]
    removed = [p for p in map(_point, diff.removed) if p]
    moved = diff.moved
    if not (added or removed or moved):
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=96)
    try:
        districts.boundary.plot(ax=ax, color="#868e96", linewidth=0.5)
        for c in moved:
            ax.plot([c.old_xy[0], c.new_xy[0]], [c.old_xy[1], c.new_xy[1]], color=MOVED,
                    linewidth=1)
            ax.scatter([c.old_xy[0]], [c.old_xy[1]], s=14, facecolors="none",
                       edgecolors=MOVED)
        for pts, colour, marker in ((added, ADDED, "o"), ([c.new_xy for c in moved], MOVED, "o"),
                                    (removed, REMOVED, "x")):
            if pts:
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=22, c=colour,
                           marker=marker, zorder=3)
        if view is not None:
            xs = [p[0] for p in added + removed] + [v for c in moved for v in
                                                      (c.old_xy[0], c.new_xy[0])]
            ys = [p[1] for p in added + removed] + [v for c in moved for v in
                                                      (c.old_xy[1], c.new_xy[1])]
            ax.set_xlim(min([view[0], *xs]) - 0.02, max([view[2], *xs]) + 0.02)
            ax.set_ylim(min([view[1], *ys]) - 0.02, max([view[3], *ys]) + 0.02)
        ax.set_axis_off()
        ax.set_aspect("equal")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()
