"""CQL2 filters (OGC API - Features Part 3): `filter` in cql2-text or cql2-json.

pygeofilter parses the text into its AST; the AST is checked against the collection's
queryables (geo/schema.py, the one schema) when the request is parsed, so an unknown property
or a literal of the wrong type is a 400 naming `filter`, and evaluated as a boolean mask over
the collection's GeoDataFrame (vectorised pandas/shapely, no per-row Python).

Supported: comparisons (= <> < <= > >=), LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT, and
S_INTERSECTS with any geometry literal (WKT or GeoJSON, or a BBOX) given in `filter-crs`.
A predicate on a null value is unknown, as in SQL: it never matches, and NOT keeps it unknown
(so `NOT (producer LIKE 'C%')` equals `producer NOT LIKE 'C%'`).  Pure code, no Flask.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
import shapely
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text

from . import crs as crs_mod
from .errors import FilterError
from .schema import SCHEMAS
from .temporal import VIETNAM

LANGS = ("cql2-text", "cql2-json")
# The drafts' name, which GDAL's OAPIF driver looks for in the API definition before it sends
# a `-where` to the server (as `filter-lang=cql-text`); its syntax is a subset of cql2-text.
ALIASES = {"cql-text": "cql2-text"}
ACCEPTED = (*LANGS, *ALIASES)
MAX_LENGTH = 4000          # longer filters are refused: they are cache keys
GEOMETRY = "geometry"

# A field's kind for comparisons, from its schema type.
_KINDS = {"text": "string", "opt_text": "string", "code": "string", "choice": "string",
          "year": "number", "int": "number", "float": "number", "date": "date",
          "urls": "list", "texts": "list"}
_OPS = {"=": "__eq__", "<>": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__",
        ">=": "__ge__"}
_FLIPPED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def kinds(collection: str) -> dict[str, str]:
    """{queryable: kind} for a collection's published fields."""
    out = {}
    for f in SCHEMAS[collection]:
        if not f.public:
            continue
        kind = _KINDS[f.type]
        if f.type == "choice" and all(isinstance(c, int) for c in f.choices):
            kind = "number"
        out[f.name] = kind
    return out


@dataclass(frozen=True)
class Cql:
    """A checked filter; equal filters (same text, language and CRS) share cached pages."""
    text: str
    lang: str
    crs: str
    collection: str
    node: object = field(compare=False, hash=False, repr=False)


def parse(text: str, lang: str | None, collection: str, filter_crs: str | None = None,
          crs_choices=(crs_mod.CRS84,)) -> Cql:
    """Parse and check `text`; FilterError names `filter`, `filter-lang` or `filter-crs`."""
    lang = ALIASES.get(lang, lang or "cql2-text")
    if lang not in LANGS:
        raise FilterError("filter-lang", f"unknown filter language {lang[:20]!r}; expected "
                                         + " or ".join(LANGS))
    uri = crs_mod.parse_crs("filter-crs", filter_crs, crs_choices)
    if len(text) > MAX_LENGTH:
        raise FilterError("filter", f"longer than {MAX_LENGTH} characters")
    try:
        node = parse_text(text) if lang == "cql2-text" else parse_json(_json_compat(text))
    except FilterError:
        raise
    except Exception as e:  # lark, json and pygeofilter raise many kinds; all mean "bad input"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FilterError("filter", f"cannot parse this {lang} filter: {reason[:200]}") from None
    cql = Cql(text, lang, uri, collection, node)
    _Eval(collection, None, uri).predicate(node)          # check only
    return cql


def _json_compat(text: str):
    """CQL2 1.0 as pygeofilter 0.4 reads it: BETWEEN's three arguments as [low, high], and a
    `{"bbox": [...]}` literal as a polygon (pygeofilter takes its numbers in another order)."""
    def fix(node):
        if isinstance(node, list):
            return [fix(n) for n in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"bbox"} and isinstance(node["bbox"], list):
            return json.loads(shapely.to_geojson(_bbox_function(node["bbox"])))
        node = {k: fix(v) for k, v in node.items()}
        args = node.get("args")
        if node.get("op") == "between" and isinstance(args, list) and len(args) == 3:
            node["args"] = [args[0], [args[1], args[2]]]
        return node
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise FilterError("filter", "a cql2-json filter is a JSON object")
    return fix(doc)


def mask(frame, cql: Cql) -> np.ndarray:
    """The rows of `frame` (the collection's frame, CRS84) that match (surely true)."""
    return _Eval(cql.collection, frame, cql.crs).predicate(cql.node)[0]


def _bad(message: str):
    raise FilterError("filter", message)


class _Eval:
    """Checks a filter (frame None) or evaluates it (frame given) in SQL's three-valued logic:
    each predicate gives two boolean arrays, (surely true, surely false); the rest is unknown."""

    def __init__(self, collection: str, frame, filter_crs: str):
        self.kinds = kinds(collection)
        self.frame = frame
        self.crs = filter_crs

    # -- predicates ---------------------------------------------------------------------

    def predicate(self, node):
        if isinstance(node, (ast.And, ast.Or)):
            a, b = self.predicate(node.lhs), self.predicate(node.rhs)
            if a is None or b is None:
                return None
            if isinstance(node, ast.And):
                return a[0] & b[0], a[1] | b[1]
            return a[0] | b[0], a[1] & b[1]
        if isinstance(node, ast.Not):
            inner = self.predicate(node.sub_node)
            return None if inner is None else (inner[1], inner[0])
        if isinstance(node, bool):
            if self.frame is None:
                return None
            full = np.full(len(self.frame), node)
            return full, ~full
        if isinstance(node, ast.Comparison):
            return self._comparison(node)
        if isinstance(node, ast.Between):
            name, kind = self._property(node.lhs)
            low, high = self._literal(node.low, name, kind), self._literal(node.high, name, kind)
            return self._apply(name, kind, lambda s: (s >= low) & (s <= high), node.not_)
        if isinstance(node, ast.Like):
            name, kind = self._property(node.lhs)
            if kind != "string" or not isinstance(node.pattern, str):
                _bad(f"LIKE needs a text property and a text pattern ('{name}' is {kind})")
            like = _like(node.pattern, node.nocase)
            return self._apply(name, kind, lambda s: s.map(like, na_action="ignore"), node.not_)
        if isinstance(node, ast.In):
            name, kind = self._property(node.lhs)
            options = [self._literal(v, name, kind) for v in node.sub_nodes]
            return self._apply(name, kind, lambda s: s.isin(options), node.not_)
        if isinstance(node, ast.IsNull):
            name = self._name(node.lhs)
            if self.frame is None:
                return None
            nulls = self.frame[name].map(_is_null).to_numpy(dtype=bool)
            return (~nulls, nulls) if node.not_ else (nulls, ~nulls)
        if isinstance(node, ast.GeometryIntersects):
            return self._intersects(node)
        if isinstance(node, ast.SpatialComparisonPredicate):
            _bad(f"spatial operator {node.op.name} is not supported; use S_INTERSECTS")
        if isinstance(node, ast.TemporalPredicate):
            _bad("temporal operators are not supported; compare the date property instead")
        _bad(f"{type(node).__name__} is not supported here")

    def _comparison(self, node):
        lhs, rhs, op = node.lhs, node.rhs, node.op.value
        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            lhs, rhs, op = rhs, lhs, _FLIPPED[op]
        name, kind = self._property(lhs)
        value = self._literal(rhs, name, kind)
        method = _OPS[op]
        return self._apply(name, kind, lambda s: getattr(s, method)(value), False)

    def _intersects(self, node):
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute):
            lhs, rhs = rhs, lhs
        if self._name(lhs) != GEOMETRY:
            _bad(f"S_INTERSECTS compares the '{GEOMETRY}' property with a geometry")
        if isinstance(rhs, values.Envelope):
            geom = shapely.box(rhs.x1, rhs.y1, rhs.x2, rhs.y2)
        elif isinstance(rhs, ast.Function) and rhs.name.lower() == "bbox":
            geom = _bbox_function(rhs.arguments)
        elif isinstance(rhs, values.Geometry):
            try:
                geom = shapely.geometry.shape(rhs.geometry)
            except Exception:
                _bad("S_INTERSECTS: not a valid geometry")
        else:
            _bad("S_INTERSECTS needs a geometry literal (WKT, GeoJSON or BBOX)")
        if geom.is_empty or not np.isfinite(shapely.get_coordinates(geom)).all():
            _bad("S_INTERSECTS: the geometry is empty or has coordinates that are not finite")
        try:
            geom = crs_mod.to_crs84(geom, self.crs)
        except Exception:
            _bad("S_INTERSECTS: the geometry cannot be converted from filter-crs")
        if not np.isfinite(shapely.get_coordinates(geom)).all():
            _bad("S_INTERSECTS: the geometry lies outside filter-crs's area of use")
        if self.frame is None:
            return None
        hits = self.frame.geometry.intersects(geom).to_numpy(dtype=bool)
        return hits, ~hits

    # -- operands -----------------------------------------------------------------------

    def _name(self, node) -> str:
        if not isinstance(node, ast.Attribute):
            _bad("each predicate compares a property with literal values "
                 "(functions and arithmetic are not supported)")
        if node.name != GEOMETRY and node.name not in self.kinds:
            _bad(f"unknown property {node.name[:40]!r}; queryables: "
                 + ", ".join([*self.kinds, GEOMETRY]))
        return node.name

    def _property(self, node) -> tuple[str, str]:
        name = self._name(node)
        if name == GEOMETRY:
            _bad(f"'{GEOMETRY}' is compared with S_INTERSECTS only")
        kind = self.kinds[name]
        if kind == "list":
            _bad(f"'{name}' is a list; only IS NULL applies to it")
        return name, kind

    def _literal(self, value, name: str, kind: str):
        """`value` as the column's kind compares it (dates as ISO text)."""
        if kind == "number":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
        elif kind == "string":
            if isinstance(value, str):
                return value
        elif kind == "date":
            if isinstance(value, datetime):
                value = value.astimezone(VIETNAM) if value.tzinfo else value
                return value.date().isoformat()
            if isinstance(value, date):
                return value.isoformat()
            # GDAL writes a date as '2024-05-01T' and a time as '2024-05-01T08:00:00Z'.
            if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}(T.*)?", value):
                try:
                    if len(value) <= 11:
                        return date.fromisoformat(value[:10]).isoformat()
                    value = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
                    return self._literal(value, name, kind)
                except ValueError:
                    pass
        shown = {"number": "a number", "string": "a text", "date": "a DATE('YYYY-MM-DD')"}
        _bad(f"'{name}' is compared with {shown[kind]}, not {_show(value)}")

    def _series(self, name: str, kind: str):
        s = self.frame[name]
        if kind == "number":
            return pd.to_numeric(s, errors="coerce").astype("Float64")
        return s.astype("string")

    def _apply(self, name, kind, test, negate: bool):
        """(true, false) of the test on the column; on a null value it is neither."""
        if self.frame is None:
            return None
        s = self._series(name, kind)
        result = test(s)
        matched = pd.array(result, dtype="boolean").fillna(False).to_numpy(dtype=bool)
        known = s.notna().to_numpy(dtype=bool)
        true, false = known & matched, known & ~matched
        return (false, true) if negate else (true, false)


def _bbox_function(args):
    """cql2-text's BBOX(minx, miny, maxx, maxy), or with heights (6 numbers, dropped)."""
    numeric = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
    if not numeric or len(args) not in (4, 6):
        _bad("BBOX takes 4 or 6 numbers")
    x0, y0, x1, y1 = args if len(args) == 4 else (args[0], args[1], args[3], args[4])
    if x0 > x1 or y0 > y1:
        _bad("BBOX: the lower corner comes first")
    return shapely.box(x0, y0, x1, y1)


def _is_null(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA


def _like(pattern: str, nocase: bool):
    """CQL2 LIKE as a test of one text: % any run of characters, _ one character, \\ escapes
    the next one.  Not one regular expression: `.*` runs backtrack exponentially on a text that
    fails (`'% % % % % ~'`); here the pieces between the %s have fixed lengths and are found
    leftmost in turn: one scan of the text per piece, whatever the text."""
    pieces, current, i = [], [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            current.append(re.escape(pattern[i + 1]))
            i += 1
        elif ch == "%":
            pieces.append(current)
            current = []
        else:
            current.append("." if ch == "_" else re.escape(ch))
        i += 1
    pieces.append(current)
    flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
    if len(pieces) == 1:                                   # no %: the whole text
        whole = re.compile("".join(pieces[0]), flags)
        return lambda text: whole.fullmatch(text) is not None
    first = re.compile("".join(pieces[0]), flags)
    middle = [re.compile("".join(p), flags) for p in pieces[1:-1] if p]
    last = re.compile("(?:" + "".join(pieces[-1]) + r")\Z", flags)   # at the very end

    def test(text: str) -> bool:
        m = first.match(text)
        if m is None:
            return False
        at = m.end()
        for piece in middle:
            m = piece.search(text, at)
            if m is None:
                return False
            at = m.end()
        return last.search(text, at) is not None
    return test


def _show(value) -> str:
    if isinstance(value, ast.Node):
        return "an expression"
    return repr(value)[:40]
