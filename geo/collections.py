"""The four published collections, prepared once per data version for filtering and export."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import geopandas as gpd

from . import certificates
from .filters import search_text
from .schema import public
from .spatial import counts_by_district, locate_districts


@dataclass(frozen=True)
class Collection:
    name: str
    title_vi: str
    title_en: str
    description: str
    frame: gpd.GeoDataFrame        # public columns, plus `_folded` (search text)
    fields: tuple[str, ...]        # public property names, in order
    geometry_type: str             # "Point" or "Polygon"
    text_columns: tuple[str, ...]  # what `q` searches
    id_field: str = "id"

    @property
    def public(self) -> gpd.GeoDataFrame:
        return self.frame[list(self.fields) + ["geometry"]]


# The published fields, in order (geo/schema.py).
PRODUCT_FIELDS = public("products")
DESTINATION_FIELDS = public("destinations")
DISTRICT_FIELDS = public("districts")
COMMUNE_FIELDS = public("communes")


def _with_columns(frame: gpd.GeoDataFrame, fields) -> gpd.GeoDataFrame:
    out = frame.copy()
    for f in fields:
        if f not in out:
            out[f] = None
    return out


def with_certificates(products: gpd.GeoDataFrame, today: date) -> gpd.GeoDataFrame:
    """`certificate_status` (valid | expired | unknown) and `certificate_expires` as of
    `today`, by the one rule in geo/certificates.py."""
    out = products.copy()
    recs = out[[c for c in ("certified_year", "certified_date") if c in out]].to_dict("records")
    out["certificate_status"] = [certificates.status(r, today) for r in recs]
    out["certificate_expires"] = [(e.isoformat() if (e := certificates.expires_on(r)) else None)
                                  for r in recs]
    return out


def build_collections(dataset, today: date | None = None) -> dict[str, Collection]:
    products = with_certificates(locate_districts(dataset.products, dataset.districts),
                                 today or date.today())
    destinations = locate_districts(dataset.destinations, dataset.districts)
    counts = counts_by_district(products, dataset.districts["code"])
    districts = dataset.districts.copy()
    districts["district_code"] = districts["code"]
    districts["products"] = counts["total"].reindex(districts.index).to_numpy()
    for s in (3, 4, 5):
        districts[f"products_{s}_stars"] = counts[f"stars_{s}"].reindex(districts.index).to_numpy()
    # A 2025 commune belongs to the former district its centroid lies in.
    communes = dataset.communes.copy()
    joined = gpd.sjoin(communes[["geometry"]], dataset.districts[["code", "geometry"]],
                       how="left", predicate="within")
    communes["district_code"] = joined.groupby(level=0)["code"].first().reindex(communes.index)
    communes["district_code"] = communes["district_code"].astype(object).where(
        communes["district_code"].notna(), None)

    region = dataset.region
    where = region.label("en")
    specs = [
        ("products", "Sản phẩm OCOP", "OCOP products",
         f"OCOP-certified products of {where} (3-5 stars), each with its source.",
         products, PRODUCT_FIELDS, "Point",
         ("name", "name_en", "producer", "address", "district", "commune", "description")),
        ("destinations", "Điểm du lịch", "Tourist destinations",
         f"Tourist destinations of {where} with short descriptions in Vietnamese and English.",
         destinations, DESTINATION_FIELDS, "Point",
         ("name", "name_en", "district", "description", "description_en")),
        ("districts", "Quận, huyện cũ (đến 1/7/2025)", "Former districts (until 1 July 2025)",
         f"The {region.former_districts} former districts (until 1 July 2025) of the "
         f"provinces {where} was formed from ({', '.join(region.province_names_before)}), "
         "with OCOP product counts (boundaries: geoBoundaries, CC BY-SA 4.0).",
         districts, DISTRICT_FIELDS, "Polygon", ("name", "full_name")),
        ("communes", "Xã, phường, đặc khu (từ 7/2025)", "Communes (from July 2025)",
         f"The {region.units_2025} commune-level units of {where} from 1 July 2025 "
         "(centroids) and the units they were formed from.",
         communes, COMMUNE_FIELDS, "Point", ("name", "full_name")),
    ]
    out = {}
    for name, vi, en, desc, frame, fields, gtype, text in specs:
        frame = _with_columns(frame, fields)
        frame["_folded"] = search_text(frame, text)
        out[name] = Collection(name, vi, en, desc, frame, fields, gtype, text,
                               id_field=fields[0])
    return out
