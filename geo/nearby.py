"""What is near what: metric distances in UTM zone 48N (pyproj, via geopandas)."""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import shapely

from .spatial import METRIC_CRS

DEFAULT_RADIUS_KM = 10.0


@dataclass(frozen=True)
class Near:
    id: str
    name: str
    name_en: str
    km: float


def _metric(frame: gpd.GeoDataFrame) -> gpd.GeoSeries:
    return frame.geometry.to_crs(METRIC_CRS)


def near_each(origins: gpd.GeoDataFrame, targets: gpd.GeoDataFrame,
              radius_km: float = DEFAULT_RADIUS_KM, limit: int = 8) -> dict[str, list[Near]]:
    """For every origin, the targets within `radius_km`, nearest first (at most `limit`)."""
    o, t = _metric(origins), _metric(targets)
    pairs = t.sindex.query(o, predicate="dwithin", distance=radius_km * 1000)
    out: dict[str, list[Near]] = {i: [] for i in origins.index}
    o_vals, t_vals = o.to_numpy(), t.to_numpy()
    names, names_en = targets["name"].to_numpy(), targets["name_en"].to_numpy()
    for oi, ti in zip(*pairs):
        km = shapely.distance(o_vals[oi], t_vals[ti]) / 1000
        out[origins.index[oi]].append(Near(targets.index[ti], names[ti], names_en[ti], km))
    for key, items in out.items():
        items.sort(key=lambda n: (n.km, n.name))
        del items[limit:]
    return out


def near_point(lon: float, lat: float, targets: gpd.GeoDataFrame,
               radius_km: float = DEFAULT_RADIUS_KM) -> gpd.GeoDataFrame:
    """Targets within `radius_km` of (lon, lat), nearest first, with a `km` column."""
    origin = gpd.GeoSeries([shapely.Point(lon, lat)], crs="EPSG:4326").to_crs(METRIC_CRS)[0]
    km = _metric(targets).distance(origin) / 1000
    out = targets.assign(km=km)
    return out[out["km"] <= radius_km].sort_values(["km", "name"])
