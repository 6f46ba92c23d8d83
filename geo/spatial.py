"""The one spatial engine: which district a point lies in, the nearest 2025 commune, counts.

Every point-in-unit and nearest-unit question (loading, the importer, stats) is answered here,
vectorised with the spatial index, distances in a metric CRS (the region's, UTM 48N here).
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .categories import STARS

# The default metric CRS (WGS 84 / UTM zone 48N covers all of northern Vietnam); a region
# may name its own in data/region.json.
METRIC_CRS = "EPSG:32648"
# Commune centroids on the coast can fall just outside the coarse district polygons.
NEAREST_MAX_M = 3000


def locate_districts(points: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add `spatial_district_code` and `district_check` (ok | other_district | outside).

    A point in two overlapping polygons counts for its stated district when that is one of
    them; a point in none is given the nearest district within NEAREST_MAX_M and flagged.
    Vectorised: one spatial-index query for all points (a million takes seconds).
    """
    out = points.copy()
    codes = districts["code"].to_numpy()
    stated = points["district_code"].to_numpy()
    pt_idx, poly_idx = districts.sindex.query(points.geometry.to_numpy(), predicate="within")
    hit_codes = codes[poly_idx]
    chosen = np.full(len(points), None, dtype=object)
    # First any containing district, then prefer the stated one where it contains the point.
    chosen[pt_idx[::-1]] = hit_codes[::-1]
    is_stated = hit_codes == stated[pt_idx]
    chosen[pt_idx[is_stated]] = hit_codes[is_stated]
    inside = pd.notna(chosen)
    final = chosen.copy()
    if (~inside).any():
        m_pts = points.loc[~inside, ["geometry"]].to_crs(METRIC_CRS)
        nearest = gpd.sjoin_nearest(m_pts, districts[["code", "geometry"]].to_crs(METRIC_CRS),
                                    how="left", max_distance=NEAREST_MAX_M)
        near = nearest["code"].groupby(level=0, sort=False).first()
        final[~inside] = [c if isinstance(c, str) else None
                          for c in near.reindex(points.index[~inside])]
    out["spatial_district_code"] = final
    out["district_check"] = np.where(~inside, "outside",
                                     np.where(chosen == stated, "ok", "other_district"))
    return out


def counts_by_district(products: gpd.GeoDataFrame, district_codes) -> pd.DataFrame:
    """Products per district by the spatial join, with a column per star level and a total."""
    table = pd.crosstab(products["spatial_district_code"], products["stars"])
    table = table.reindex(index=list(district_codes), columns=list(STARS), fill_value=0)
    table.columns = [f"stars_{s}" for s in STARS]
    table["total"] = table.sum(axis=1)
    return table.astype(int)


def districts_at(lons, lats, districts: gpd.GeoDataFrame, metric_crs: str = METRIC_CRS,
                 max_m: float = NEAREST_MAX_M) -> tuple[np.ndarray, np.ndarray]:
    """For each point: (code of the district containing it or nearest to it, metres away).

    0 m when inside; the nearest district's distance otherwise (None as code past `max_m`).
    Vectorised in the metric CRS, so the importer and the loader answer the same way.
    """
    pts = gpd.GeoSeries(gpd.points_from_xy(lons, lats), crs="EPSG:4326").to_crs(metric_crs)
    polys = districts.geometry.to_crs(metric_crs).reset_index(drop=True)
    codes = districts["code"].to_numpy()
    out_code = np.full(len(pts), None, dtype=object)
    out_m = np.full(len(pts), np.inf)
    if len(pts) == 0 or len(polys) == 0:
        return out_code, out_m
    p_idx, d_idx = polys.sindex.nearest(pts, return_all=False)
    dist = shapely.distance(pts.to_numpy()[p_idx], polys.to_numpy()[d_idx])
    out_m[p_idx] = dist
    near = dist <= max_m
    out_code[p_idx[near]] = codes[d_idx[near]]
    return out_code, out_m


def nearest_points(lons, lats, targets: gpd.GeoDataFrame, metric_crs: str = METRIC_CRS
                   ) -> tuple[np.ndarray, np.ndarray]:
    """For each point: (index label of the nearest target point, metres away)."""
    pts = gpd.GeoSeries(gpd.points_from_xy(lons, lats), crs="EPSG:4326").to_crs(metric_crs)
    tgt = targets.geometry.to_crs(metric_crs).reset_index(drop=True)
    labels = np.full(len(pts), None, dtype=object)
    dist = np.full(len(pts), np.inf)
    if len(pts) and len(tgt):
        p_idx, t_idx = tgt.sindex.nearest(pts, return_all=False)
        dist[p_idx] = shapely.distance(pts.to_numpy()[p_idx], tgt.to_numpy()[t_idx])
        labels[p_idx] = targets.index.to_numpy()[t_idx]
    return labels, dist


class Places:
    """The region's district polygons and 2025 commune centroids, asked about one point at a
    time by the importer ("which district is this in?", "which 2025 commune is nearest?"),
    in the same metric CRS and with the same spatial index as the loader's vectorised join.

    The targets are projected and indexed once; a question projects one point and asks the
    index (tens of microseconds), so an import of a national list stays fast."""

    def __init__(self, districts: gpd.GeoDataFrame, communes: gpd.GeoDataFrame,
                 metric_crs: str = METRIC_CRS):
        from pyproj import Transformer

        self.districts = districts
        self.communes = communes
        self.metric_crs = metric_crs
        self._to_metric = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
        self._d_geoms = districts.geometry.to_crs(metric_crs).to_numpy() if len(districts) \
            else np.array([], dtype=object)
        self._d_codes = districts["code"].to_numpy() if len(districts) else np.array([])
        self._d_tree = shapely.STRtree(self._d_geoms)
        self._c_geoms = communes.geometry.to_crs(metric_crs).to_numpy() if len(communes) \
            else np.array([], dtype=object)
        self._c_tree = shapely.STRtree(self._c_geoms)
        self._d_index = {code: i for i, code in enumerate(self._d_codes)}

    @classmethod
    def from_features(cls, district_features: list[dict], commune_features: list[dict],
                      metric_crs: str = METRIC_CRS) -> "Places":
        def frame(features):
            gdf = gpd.GeoDataFrame.from_features(features, crs="EPSG:4326")
            return gdf.set_index(gdf["code"].to_numpy()) if len(gdf) else gdf
        return cls(frame(district_features), frame(commune_features), metric_crs)

    def _point(self, lon: float, lat: float):
        return shapely.Point(*self._to_metric.transform(lon, lat))

    def district_at(self, lon: float, lat: float) -> tuple[str | None, float]:
        """(code of the district containing the point, else of the nearest one; metres)."""
        if not len(self._d_geoms):
            return None, float("inf")
        pt = self._point(lon, lat)
        inside = self._d_tree.query(pt, predicate="within")
        if len(inside):
            return self._d_codes[inside[0]], 0.0
        i = self._d_tree.nearest(pt)
        return self._d_codes[i], float(shapely.distance(pt, self._d_geoms[i]))

    def metres_from_district(self, code: str, lon: float, lat: float) -> float:
        """Metres from the point to district `code` (0 inside)."""
        return float(shapely.distance(self._point(lon, lat), self._d_geoms[self._d_index[code]]))

    def commune_2025_near(self, lon: float, lat: float) -> tuple[str | None, str | None]:
        """(full name, code) of the 2025 unit whose centroid is nearest."""
        if not len(self._c_geoms):
            return None, None
        row = self.communes.iloc[self._c_tree.nearest(self._point(lon, lat))]
        return row["full_name"], row["code"]
