"""Spatial joins: which district each point really lies in, and counts per district."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd

from .categories import STARS

# A metric CRS for distances around Hải Phòng: WGS 84 / UTM zone 48N.
METRIC_CRS = "EPSG:32648"
# Commune centroids on the coast can fall just outside the coarse district polygons.
NEAREST_MAX_M = 3000


def locate_districts(points: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add `spatial_district_code` and `district_check` (ok | other_district | outside).

    A point in two overlapping polygons counts for its stated district when that is one of
    them; a point in none is given the nearest district within NEAREST_MAX_M and flagged.
    """
    out = points.copy()
    polys = districts[["code", "geometry"]]
    hits = gpd.sjoin(points[["district_code", "geometry"]], polys, how="left",
                     predicate="within")
    chosen: dict[str, str | None] = {}
    for idx, group in hits.groupby(level=0, sort=False):
        codes = [c for c in group["code"].tolist() if isinstance(c, str)]
        stated = group["district_code"].iloc[0]
        chosen[idx] = stated if stated in codes else (codes[0] if codes else None)
    missing = [i for i, c in chosen.items() if c is None]
    near: dict[str, str] = {}
    if missing:
        m_pts = points.loc[missing, ["geometry"]].to_crs(METRIC_CRS)
        nearest = gpd.sjoin_nearest(m_pts, polys.to_crs(METRIC_CRS), how="left",
                                    max_distance=NEAREST_MAX_M)
        near = {i: c for i, c in nearest["code"].groupby(level=0).first().items()
                if isinstance(c, str)}
    out["spatial_district_code"] = [chosen[i] or near.get(i) for i in out.index]
    out["district_check"] = [
        "outside" if chosen[i] is None
        else ("ok" if chosen[i] == out.at[i, "district_code"] else "other_district")
        for i in out.index]
    return out


def counts_by_district(products: gpd.GeoDataFrame, district_codes) -> pd.DataFrame:
    """Products per district by the spatial join, with a column per star level and a total."""
    table = pd.crosstab(products["spatial_district_code"], products["stars"])
    table = table.reindex(index=list(district_codes), columns=list(STARS), fill_value=0)
    table.columns = [f"stars_{s}" for s in STARS]
    table["total"] = table.sum(axis=1)
    return table.astype(int)
