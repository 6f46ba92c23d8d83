"""Write the small import fixtures in this folder: `python tests/data/make_fixtures.py`.

Hostile ones (each must be reported and change nothing) and good ones (each must import).
The .xlsx and the zipped shapefile are binary and are made at test time (tests/test_import.py).
"""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent

HEADER = "id,name,name_en,category,stars,district,commune,address,certified_year,source"
SRC = "Quyết định 1234/QĐ-UBND"


def row(i, name="Nước mắm Cát Hải", stars=4, district="Cát Hải", commune="",
        address="Thị trấn Cát Hải, Huyện Cát Hải, Thành phố Hải Phòng", extra=""):
    return (f'imp-{i},{name},Fish sauce {i},food,{stars},{district},{commune},"{address}",'
            f"2024,{SRC}{extra}")


def to_cp1258(text: str) -> bytes:
    """Windows-1258 keeps some letters precomposed and puts tone marks after them."""
    out = b""
    for c in unicodedata.normalize("NFC", text):
        d = unicodedata.normalize("NFD", c)
        base, marks = d[0], d[1:]
        cands = [c] + [unicodedata.normalize("NFC", base + marks[i]) + marks[:i] + marks[i + 1:]
                       for i in range(len(marks))] + [d]
        for cand in cands:
            try:
                out += cand.encode("cp1258")
                break
            except UnicodeEncodeError:
                continue
        else:
            raise ValueError(c)
    return out


def polygon_fc(coords, code="303"):
    return {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [coords]},
        "properties": {"code": code, "name": "Hồng Bàng", "full_name": "Quận Hồng Bàng",
                       "type": "Quận", "source": "test"}}]}


def files() -> dict[str, bytes]:
    lonlat = HEADER + ",lon,lat"
    out = {
        # hostile
        "swapped_latlon.csv": f"{lonlat}\n{row(1, extra=',20.80,106.89')}\n",
        "duplicate_ids.csv": f"{HEADER}\n{row(1)}\n{row(1, name='Mắm ruốc')}\n",
        "star_zero.csv": f"{HEADER}\n{row(1, stars=0)}\n",
        "empty.csv": "",
        "script_name.csv": f"{HEADER}\n{row(1, name='<script>alert(1)</script>')}\n",
        "outside_city.csv": f"{lonlat}\n{row(1, extra=',105.85,21.03')}\n",
        "wrong_district.csv": f"{lonlat}\n{row(1, district='Tiên Lãng', extra=',106.89,20.80')}\n",
        # good
        "lonlat.csv": f"{lonlat}\n{row(1, extra=',106.89,20.80')}\n"
                      f"{row(2, name='Mật ong', extra=',106.90,20.79')}\n",
        "address_only.csv": f"{HEADER}\n" + row(3, name="Áo dài", district="Thủy Nguyên",
                                                 commune="Phường Dương Quan",
                                                 address="Phường Dương Quan, Thành phố Thủy "
                                                         "Nguyên, Thành phố Hải Phòng") + "\n",
        # VN-2000 / UTM zone 48N (EPSG:3405) of lon 106.89, lat 20.80
        "vn2000_utm48.csv": f"{HEADER},x,y\n{row(4, extra=',696516.08,2301274.02')}\n",
    }
    out = {k: v.encode("utf-8") for k, v in out.items()}
    out["windows1258.csv"] = to_cp1258(f"{HEADER}\n{row(1)}\n")
    # a PNG image renamed .csv (a 1x1 pixel)
    out["image.csv"] = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
    out["bow_tie.geojson"] = json.dumps(polygon_fc(
        [[106.6, 20.8], [106.7, 20.9], [106.7, 20.8], [106.6, 20.9], [106.6, 20.8]])).encode()
    out["clockwise.geojson"] = json.dumps(polygon_fc(
        [[106.6, 20.8], [106.6, 20.9], [106.7, 20.9], [106.7, 20.8], [106.6, 20.8]])).encode()
    out["unclosed.geojson"] = json.dumps(polygon_fc(
        [[106.6, 20.8], [106.7, 20.8], [106.7, 20.9], [106.6, 20.9]])).encode()
    out["points.geojson"] = json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [106.89, 20.80]},
        "properties": {"id": "imp-5", "name": "Chả mực", "name_en": "Squid cake",
                       "category": "food", "stars": 3, "district": "Cát Hải",
                       "address": "Thị trấn Cát Hải, Huyện Cát Hải, Thành phố Hải Phòng",
                       "certified_year": 2023, "source": SRC}}]},
        ensure_ascii=False).encode("utf-8")
    return out


def main() -> None:
    for name, data in files().items():
        (HERE / name).write_bytes(data)
        print(f"wrote tests/data/{name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
