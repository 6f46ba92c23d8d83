"""Spatial joins: a million points to the former districts, the national set to the 2025 communes.

    python -m bench.joins                          # 1,000,000 points, 20,000 for the naive loop
    python -m bench.joins --points 100000 --sample 5000 --repeat 1
    python -m bench.joins --generator synthetic    # points from tests.synthetic.district_points

Districts: `geo.spatial.locate_districts` (what `create_app` runs on products and destinations:
one STRtree query for all points, nearest district for the few outside) against the baseline,
a naive loop that tests each point against each district polygon with shapely's `contains`
(unprepared), first hit wins.  The loop is timed on a random --sample of the points and
extrapolated to all of them; the table says so.  The two are compared on the sample.  A third
row times containment alone with `shapely.contains_xy` on prepared polygons (not used by the
app), to show what the query part could cost.  Methods are timed in alternating rounds
(--repeat, default 5) and the medians shown, so a burst of other work falls on each alike.

Points (--generator): `vectorised` (default) draws uniform points in each district's bounding
box with numpy and keeps those inside the polygon (`shapely.contains_xy`), the same number per
district, in random order; `synthetic` uses `tests.synthetic.district_points` (a point-by-point
loop, about 30 s for a million).  Either way each point lies inside the district it names.

2025 communes (`data/boundaries/communes_2025.geojson` holds the 114 units as centre points, so
this is a nearest join), on the national set: the first --national points of
`tests.synthetic.district_points` (the points of a 10,323-product synthetic data set).  The
app's own code path is the importer's (geo/importer.py, `_normalise`): a product's
`commune_2025` comes from its address (`geo.geocode.commune_2025`, vietnamadminunits'
`convert_address`), else from its location: `Places.commune_2025_near` (geo/spatial.py), the
spatial index's nearest centre in the metric CRS, one point at a time.  That per-point path is
the baseline here, beside `geopandas.sjoin_nearest` in the same CRS (EPSG:32648) for all
points at once; the table counts the points on which they disagree (ties only).  The address step is
timed on every distinct Hải Phòng address of the legacy (pre-2025) ward table (twice), and on
300 addresses it cannot convert (the synthetic data's), each extrapolated to the national set.

Nothing here touches the network or data/ (it is only read).
"""
from __future__ import annotations

import argparse
import resource
import shlex
import statistics
import sys

import geopandas as gpd
import numpy as np
import shapely

from bench.common import ROOT, machine_line, table, timed
from geo.load import load_dataset
from geo.spatial import METRIC_CRS, locate_districts

ADDRESS_SAMPLE = 300   # addresses the library cannot convert, timed and extrapolated


# -- points -------------------------------------------------------------------------------------

def vectorised_points(districts: gpd.GeoDataFrame, n: int, seed: int):
    """n points, the same number per district (remainder to the first ones), each inside its
    district polygon: rejection sampling in the polygon's bounding box, in random order."""
    rng = np.random.default_rng(seed)
    k = len(districts)
    xs, ys, codes = [], [], []
    for i, (code, geom) in enumerate(zip(districts["code"], districts.geometry)):
        want = n // k + (1 if i < n % k else 0)
        x0, y0, x1, y1 = geom.bounds
        share = max(geom.area / ((x1 - x0) * (y1 - y0)), 0.02)
        got_x, got_y, have = [], [], 0
        while have < want:
            m = int((want - have) / share * 1.2) + 64
            x, y = rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)
            inside = shapely.contains_xy(geom, x, y)
            got_x.append(x[inside])
            got_y.append(y[inside])
            have += int(inside.sum())
        xs.append(np.concatenate(got_x)[:want])
        ys.append(np.concatenate(got_y)[:want])
        codes.append(np.full(want, code, dtype=object))
    order = rng.permutation(n)
    return np.concatenate(xs)[order], np.concatenate(ys)[order], np.concatenate(codes)[order]


def synthetic_points(n: int, seed: int):
    from tests.synthetic import district_points

    pts = district_points(n, seed)
    return (np.array([p[2] for p in pts]), np.array([p[3] for p in pts]),
            np.array([p[0] for p in pts], dtype=object))


def frame(x, y, codes) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"district_code": codes}, geometry=gpd.points_from_xy(x, y),
                            crs="EPSG:4326")


# -- methods ------------------------------------------------------------------------------------

def naive_districts(x, y, districts: gpd.GeoDataFrame) -> list:
    """The baseline: per point, per district, shapely contains; the first hit wins."""
    polys = list(zip(districts["code"], districts.geometry))
    out = []
    for px, py in zip(x, y):
        pt = shapely.Point(px, py)
        found = None
        for code, geom in polys:
            if geom.contains(pt):
                found = code
                break
        out.append(found)
    return out


def contains_xy_districts(x, y, districts: gpd.GeoDataFrame) -> np.ndarray:
    """Containment only: one vectorised shapely.contains_xy per (prepared) district polygon;
    the number of districts holding each point."""
    geoms = shapely.from_wkb(shapely.to_wkb(districts.geometry.to_numpy()))   # own copies
    shapely.prepare(geoms)
    hits = np.zeros(len(x), dtype=np.int8)
    for g in geoms:
        hits += shapely.contains_xy(g, x, y)
    return hits


def sjoin_communes(points: gpd.GeoDataFrame, communes_m: gpd.GeoDataFrame) -> np.ndarray:
    """Nearest 2025 commune centre of each point, in metres (EPSG:32648); ties: the first."""
    pts_m = points[["geometry"]].to_crs(METRIC_CRS)
    joined = gpd.sjoin_nearest(pts_m, communes_m[["code", "geometry"]], how="left")
    return joined["code"].groupby(level=0, sort=False).first().reindex(points.index).to_numpy()


def legacy_addresses() -> list[str]:
    """Every distinct '<ward>, <district>, Thành phố Hải Phòng' of the pre-2025 table."""
    from vietnamadminunits.database.main import query

    rows = query("select ward, district, province from admin_units_legacy "
                 "where provinceShort='Hải Phòng' and ward is not null")
    return list(dict.fromkeys(f"{r['ward']}, {r['district']}, {r['province']}" for r in rows))


# -- report -------------------------------------------------------------------------------------

def _n(v) -> str:
    return f"{v:,.0f}"


def _t(v) -> str:
    return f"{v:,.3f}" if v < 10 else f"{v:,.1f}"


def command_line(args) -> str:
    parts = ["python", "-m", "bench.joins", "--points", str(args.points), "--sample",
             str(args.sample), "--national", str(args.national)]
    if args.generator != "vectorised":
        parts += ["--generator", args.generator]
    if args.repeat != 5:
        parts += ["--repeat", str(args.repeat)]
    if args.seed != 1:
        parts += ["--seed", str(args.seed)]
    if args.no_address:
        parts.append("--no-address")
    return shlex.join(parts)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.joins", description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=1_000_000,
                   help="points for the district join (default 1,000,000)")
    p.add_argument("--sample", type=int, default=20_000,
                   help="points timed in the naive loop, extrapolated (default 20,000)")
    p.add_argument("--national", type=int, default=10_323,
                   help="points for the 2025 commune join (default 10,323)")
    p.add_argument("--generator", choices=("vectorised", "synthetic"), default="vectorised",
                   help="how the district join's points are made (default vectorised)")
    p.add_argument("--repeat", type=int, default=5,
                   help="rounds, each timing every method once in turn; medians are shown "
                        "(default 5)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-address", action="store_true",
                   help="skip timing the address step of the commune assignment")
    args = p.parse_args(argv)
    if not 1 <= args.points <= 20_000_000:
        p.error("--points must be 1 to 20,000,000")
    if not 1 <= args.sample:
        p.error("--sample must be at least 1")
    args.sample = min(args.sample, args.points)
    if not 1 <= args.national <= 1_000_000:
        p.error("--national must be 1 to 1,000,000")
    if not 1 <= args.repeat <= 20:
        p.error("--repeat must be 1 to 20")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    print(f"Reproduce: {command_line(args)}", flush=True)
    header = machine_line()
    dataset = load_dataset(ROOT / "data")
    districts = dataset.districts
    notes, problems, rows = [], [], []

    # -- districts ------------------------------------------------------------------------------
    gen = (lambda: vectorised_points(districts, args.points, args.seed)) \
        if args.generator == "vectorised" else (lambda: synthetic_points(args.points, args.seed))
    (x, y, codes), gen_s = timed(gen)
    points, frame_s = timed(lambda: frame(x, y, codes))
    notes.append(f"{_n(args.points)} points made by the {args.generator} generator in "
                 f"{_t(gen_s)} s, GeoDataFrame built in {_t(frame_s)} s (neither counted)")
    rng = np.random.default_rng(args.seed + 1)
    sample = np.sort(rng.choice(args.points, size=args.sample, replace=False))
    sx, sy = x[sample], y[sample]
    # Alternating rounds, medians: a burst of other work falls on every method alike.
    times = {"naive": [], "fast": [], "xy": []}
    for _ in range(args.repeat):
        naive, t = timed(lambda: naive_districts(sx, sy, districts))
        times["naive"].append(t)
        located, t = timed(lambda: locate_districts(points, districts))
        times["fast"].append(t)
        hits, t = timed(lambda: contains_xy_districts(x, y, districts))
        times["xy"].append(t)
    naive_s, fast_s, xy_s = (statistics.median(times[k]) for k in ("naive", "fast", "xy"))
    naive_all_s = naive_s * args.points / args.sample
    label = f"districts ({len(dataset.districts)} polygons), {_n(args.points)} points"
    rows.append([label, "naive loop: shapely contains per point and district",
                 _n(args.points), f"{_n(args.sample)} sample, extrapol., median of "
                 f"{args.repeat}", _t(naive_all_s),
                 _n(args.points / naive_all_s), "1.0x"])
    rows.append(["", "geo.spatial.locate_districts (one STRtree query)", _n(args.points),
                 f"all, median of {args.repeat}", _t(fast_s), _n(args.points / fast_s),
                 f"{naive_all_s / fast_s:,.1f}x"])
    rows.append(["", "shapely.contains_xy per prepared polygon (containment only; "
                 "not in the app)", _n(args.points), f"all, median of {args.repeat}",
                 _t(xy_s), _n(args.points / xy_s), f"{naive_all_s / xy_s:,.1f}x"])
    if int((hits > 0).sum()) != args.points:
        problems.append("contains_xy found points in no district")
    checks = located["district_check"].value_counts()
    n_ok, n_other, n_out = (int(checks.get(k, 0)) for k in ("ok", "other_district", "outside"))
    counted = int(located["spatial_district_code"].notna().sum())
    consistent = len(located) == args.points and counted == args.points and n_ok == args.points
    fast_codes = located["spatial_district_code"].to_numpy()[sample]
    agree = int(sum(a == b for a, b in zip(fast_codes, naive)))
    in_stated = int(sum(a == b for a, b in zip(naive, codes[sample])))
    checked = (f"district join: {_n(args.points)} points in, {_n(len(located))} rows out, "
               f"{_n(counted)} with a district: {_n(n_ok)} ok, {_n(n_other)} other_district, "
               f"{_n(n_out)} outside; consistent: {'yes' if consistent else 'NO'}")
    sample_line = (f"on the {_n(args.sample)}-point sample the naive loop and locate_districts "
                   f"agree on {_n(agree)}; the naive loop's first hit is the stated district for "
                   f"{_n(in_stated)} (the rest lie where two coarse polygons overlap)")
    if not consistent:
        problems.append("the district join did not give every point its own district")

    # -- 2025 communes --------------------------------------------------------------------------
    from geo.import_place import _Units
    from tests.synthetic import district_points

    nat = district_points(args.national, 1)
    nx = np.array([p[2] for p in nat])
    ny = np.array([p[3] for p in nat])
    nat_points = frame(nx, ny, np.array([p[0] for p in nat], dtype=object))
    units = _Units(ROOT / "data")
    communes_m = dataset.communes.to_crs(METRIC_CRS)
    times = {"app": [], "sj": []}
    for _ in range(args.repeat):
        app_codes, t = timed(lambda: [units.commune_2025_near(px, py)[1]
                                      for px, py in zip(nx, ny)])
        times["app"].append(t)
        sj_codes, t = timed(lambda: sjoin_communes(nat_points, communes_m))
        times["sj"].append(t)
    app_s, sj_s = statistics.median(times["app"]), statistics.median(times["sj"])
    label = f"2025 communes ({len(dataset.communes)} centres), {_n(args.national)} points"
    rows.append([label, "importer: Places.commune_2025_near per point (metric)",
                 _n(args.national), f"all, median of {args.repeat}", _t(app_s),
                 _n(args.national / app_s), "1.0x"])
    rows.append(["", f"geopandas.sjoin_nearest in {METRIC_CRS} (not in the app)",
                 _n(args.national), f"all, median of {args.repeat}", _t(sj_s),
                 _n(args.national / sj_s), f"{app_s / sj_s:,.1f}x"])
    differ = [i for i, (a, b) in enumerate(zip(app_codes, sj_codes)) if a != b]
    nulls = sum(c is None for c in sj_codes)
    if len(sj_codes) != args.national or nulls:
        problems.append("the nearest-commune join did not give every point a commune")
    worst = 0.0
    if differ:
        pm = nat_points.iloc[differ].to_crs(METRIC_CRS).geometry.to_numpy()
        cg = communes_m.geometry
        worst = max(p.distance(cg[app_codes[i]]) - p.distance(cg[sj_codes[i]])
                    for p, i in zip(pm, differ))
    commune_line = (f"commune join: {_n(len(sj_codes))} points, every one given a commune: "
                    f"{'yes' if not nulls else 'NO'}; per point vs sjoin_nearest disagree on "
                    f"{_n(len(differ))} point(s)"
                    + (f", where the importer's choice is at most {worst:,.0f} m farther than "
                       f"the nearest centre" if differ else ""))

    # -- the address step -----------------------------------------------------------------------
    if not args.no_address:
        from geo import geocode

        addresses = legacy_addresses()
        timed(lambda: geocode.commune_2025(addresses[0]))   # loads the library: not counted
        found, cold_s = timed(lambda: [geocode.commune_2025(a) for a in addresses])
        _, again_s = timed(lambda: [geocode.commune_2025(a) for a in addresses])
        per = cold_s / len(addresses)
        rows.append(["", "importer: geocode.commune_2025 by address (first step)",
                     _n(args.national), f"{_n(len(addresses))} real addresses, extrap.",
                     _t(per * args.national), _n(1 / per), "-"])
        unknown = [f"Sản phẩm thử {i}" for i in range(min(args.national, ADDRESS_SAMPLE))]
        miss, miss_s = timed(lambda: [geocode.commune_2025(a) for a in unknown])
        per_miss = miss_s / len(unknown)
        rows.append(["", "  the same, addresses it cannot convert (synthetic)",
                     _n(args.national), f"{_n(len(unknown))} sample, extrapolated",
                     _t(per_miss * args.national), _n(1 / per_miss), "-"])
        converted = sum(1 for name, _ in found if name)
        notes.append(f"address step: real addresses are every distinct '<ward>, <district>, "
                     f"Thành phố Hải Phòng' of the legacy table ({_n(len(addresses))}, "
                     f"{converted} converted to a 2025 unit): {per * 1000:.2f} ms each, "
                     f"{again_s / len(addresses) * 1000:.2f} ms each on a second pass; "
                     f"addresses it cannot convert (the synthetic data's 'Sản phẩm thử N', "
                     f"{sum(1 for name, _ in miss if name)} converted) cost "
                     f"{per_miss * 1000:.1f} ms each before the importer falls back to the "
                     f"location. An import runs this step once per row")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    head = ["join", "method", "points", "timed on", "time s", "points/s", "speed-up"]
    print()
    print(f"Reproduce: {command_line(args)}")
    print(f"Spatial joins; {header}")
    print()
    print("\n".join(table(head, rows, left=2)))
    print()
    print(f"Checked: {checked}")
    print(f"Checked: {sample_line}")
    print(f"Checked: {commune_line}")
    for note in notes:
        print(f"Note: {note}")
    print(f"Note: peak RSS of this process {peak:,.0f} MiB; speed-up = baseline time / time")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        sys.exit(130)
