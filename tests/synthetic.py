"""Synthetic data sets for tests and benchmarks: generated here, never written into data/."""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from shapely.geometry import shape

from geo import schema
from geo.categories import CATEGORIES, KINDS, STARS

ROOT = Path(__file__).resolve().parent.parent
BOUNDARIES = ROOT / "data" / "boundaries"
# The former districts every generated data set shares with data/ (its real boundaries).
N_DISTRICTS = len(json.loads((BOUNDARIES / "districts.geojson").read_text(encoding="utf-8"))
                  ["features"])
HOSTILE = "`</script><img src=x onerror=alert(1)>${alert(2)}\\'\""


def _fc(features):
    return {"type": "FeatureCollection", "features": features}


def _point(x, y, props):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": props}


def district_points(n: int, seed: int = 1):
    """n random points, each inside a real district polygon: (code, name, lon, lat)."""
    rnd = random.Random(seed)
    feats = json.loads((BOUNDARIES / "districts.geojson").read_text(encoding="utf-8"))["features"]
    shapes = [(f["properties"]["code"], f["properties"]["name"], shape(f["geometry"]))
              for f in feats]
    out = []
    while len(out) < n:
        code, name, geom = shapes[len(out) % len(shapes)]
        x0, y0, x1, y1 = geom.bounds
        x, y = rnd.uniform(x0, x1), rnd.uniform(y0, y1)
        if geom.contains(shape({"type": "Point", "coordinates": [x, y]})):
            out.append((code, name, round(x, 6), round(y, 6)))
    return out


def _sample(f, i: int, text: str):
    """A value of field `f` (geo/schema.py) for the i-th generated record."""
    return {"text": text, "opt_text": text, "code": None, "year": 2021, "date": None,
            "urls": ["https://example.org/shop?a=1&b=2"], "texts": [text], "int": i,
            "float": 1.5, "choice": f.choices[i % len(f.choices)] if f.choices else None,
            }[f.type]


def _record(collection: str, i: int, text: str, **given) -> dict:
    """Every stored field of the schema, so a field added there is generated here too."""
    props = {}
    for name, f in schema.stored(collection).items():
        value = given[name] if name in given else _sample(f, i, text)
        if value is not None or f.required:
            props[name] = value
    props.update({k: v for k, v in given.items() if k not in props and v is not None})
    return props


def product(i: int, code: str, district: str, x: float, y: float, text: str | None = None,
            **over) -> dict:
    t = text if text is not None else f"Sản phẩm thử {i}"
    cats = list(CATEGORIES)
    fields = {"id": f"test-{i}", "category": cats[i % len(cats)], "stars": STARS[i % 3],
              "district_code": code, "district": district, "location_precision": "commune",
              "commune_2025_from": None}
    return _point(x, y, _record("products", i, t, **{**fields, **over}))


def destination(i: int, code: str, district: str, x: float, y: float, text: str | None = None):
    t = text if text is not None else f"Điểm thử {i}"
    kinds = list(KINDS)
    return _point(x, y, _record("destinations", i, t, id=f"dest-{i}",
                                kind=kinds[i % len(kinds)], district_code=code,
                                district=district, location_precision="exact",
                                commune_2025_from=None, location_source=None))


def write_dataset(target: Path, n_products: int = 30, n_destinations: int = 8,
                  text: str | None = None, seed: int = 1) -> Path:
    """A complete data directory: real boundaries, generated products and destinations."""
    target = Path(target)
    shutil.copytree(BOUNDARIES, target / "boundaries", dirs_exist_ok=True)
    shutil.copyfile(ROOT / "data" / "region.json", target / "region.json")
    pts = district_points(n_products + n_destinations, seed)
    prods = [product(i, *p, text=text) for i, p in enumerate(pts[:n_products])]
    dests = [destination(i, *p, text=text) for i, p in enumerate(pts[n_products:])]
    for name, feats in (("products.geojson", prods), ("destinations.geojson", dests)):
        (target / name).write_text(json.dumps(_fc(feats), ensure_ascii=False), encoding="utf-8")
    return target
