"""Officials' imports: hostile files are reported and change nothing; good ones go in whole,
atomically, with history, rollback, a lock and a reload of the running server."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from app import create_app
from geo import importer
from geo.load import FILES, data_version, load_dataset
from geo.region import load_region
from geo.store import HISTORY, Store
from tests.data.make_fixtures import files as fixture_files

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def snapshot(data_dir: Path) -> dict[str, bytes]:
    return {rel: (data_dir / rel).read_bytes() for rel in FILES.values()}


@pytest.fixture(scope="module", autouse=True)
def fixtures_are_current():
    """The committed fixtures are what tests/data/make_fixtures.py writes."""
    for name, data in fixture_files().items():
        assert (DATA / name).read_bytes() == data, f"run python tests/data/make_fixtures.py ({name})"


@pytest.fixture()
def app_on(data_copy, monkeypatch):
    monkeypatch.setenv("OCOP_DATA_DIR", str(data_copy))
    import web.state

    monkeypatch.setattr(web.state, "CHECK_EVERY", 0.0)
    return create_app({"TESTING": True, "DATA_DIR": str(data_copy)})


def run(app, *args):
    return app.test_cli_runner().invoke(args=["ocop", *args], catch_exceptions=False)


# -- hostile files: named problem, byte-identical data -----------------------------------------

HOSTILE = [
    ("swapped_latlon.csv", [], "latitude and longitude are swapped"),
    ("bow_tie.geojson", [], "invalid geometry: Self-intersection[106.65 20.85]"),
    ("clockwise.geojson", [], "right-hand rule"),
    ("unclosed.geojson", [], "ring 1 is not closed"),
    ("windows1258.csv", [], "not UTF-8"),
    ("duplicate_ids.csv", [], "duplicate id 'imp-1', also row 2"),
    ("star_zero.csv", [], "field 'stars': is 0; expected one of 3, 4, 5"),
    ("empty.csv", [], "empty (0 bytes)"),
    ("image.csv", [], "the name says CSV but the content is a PNG image"),
    ("outside_city.csv", [], "lies outside Hải Phòng"),
]


@pytest.mark.parametrize("name,opts,expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_file_is_reported_and_changes_nothing(app_on, data_copy, name, opts, expected):
    before = snapshot(data_copy)
    for command in ("check", "import"):
        result = run(app_on, command, str(DATA / name), *opts)
        assert result.exit_code != 0, result.output
        assert expected in result.output, result.output
    assert snapshot(data_copy) == before
    assert "nothing was changed" in result.output


def test_windows_1258_names_the_encoding(data_copy):
    out = importer.import_file(data_copy, DATA / "windows1258.csv", apply=False)
    assert "cp1258" in str(out.problems[0]).lower() or "1258" in str(out.problems[0])


def test_bow_tie_is_repaired_only_when_asked(data_copy):
    imp = importer.read_import(DATA / "bow_tie.geojson", data_copy, repair=True)
    assert imp.ok, imp.report()
    assert any("repaired: Self-intersection" in str(p) for p in imp.warnings)


def test_script_in_a_name_is_stored_as_text_and_shown_escaped(app_on, data_copy):
    before = snapshot(data_copy)
    result = run(app_on, "check", str(DATA / "script_name.csv"))
    assert "contains HTML markup" in result.output and snapshot(data_copy) == before
    result = run(app_on, "import", str(DATA / "script_name.csv"))
    assert result.exit_code == 0, result.output
    doc = json.loads((data_copy / "products.geojson").read_text(encoding="utf-8"))
    names = [f["properties"]["name"] for f in doc["features"]]
    assert "<script>alert(1)</script>" in names
    html = app_on.test_client().get("/expiring?months=120").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html


def test_wrong_district_is_a_warning_naming_both(data_copy):
    out = importer.import_file(data_copy, DATA / "wrong_district.csv", apply=False)
    assert out.ok
    assert any("says Tiên Lãng but the point lies in Cát Hải" in str(p) for p in out.problems)


def test_file_too_large_is_refused(data_copy, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_FILE_BYTES", 100)
    big = tmp_path / "big.csv"
    big.write_bytes((DATA / "lonlat.csv").read_bytes() * 2)
    out = importer.import_file(data_copy, big, apply=False)
    assert "limit is" in str(out.problems[0])


# -- good files ---------------------------------------------------------------------------------

def _feature(data_dir, fid):
    doc = json.loads((data_dir / "products.geojson").read_text(encoding="utf-8"))
    return next(f for f in doc["features"] if f["properties"]["id"] == fid)


def test_csv_with_lon_lat(app_on, data_copy):
    n = len(load_dataset(data_copy).products)
    result = run(app_on, "import", str(DATA / "lonlat.csv"))
    assert result.exit_code == 0, result.output
    assert "2 added, 0 replaced" in result.output
    f = _feature(data_copy, "imp-1")
    assert f["geometry"]["coordinates"] == [106.89, 20.8]
    assert f["properties"]["location_precision"] == "exact"
    assert f["properties"]["district_code"] == "317"
    assert f["properties"]["commune_2025"]          # the 2025 unit beside the old district
    assert len(load_dataset(data_copy).products) == n + 2
    # merged by id: the same file again replaces, adds nothing
    result = run(app_on, "import", str(DATA / "lonlat.csv"))
    assert "0 added, 2 replaced" in result.output


def test_csv_with_addresses_only_is_geocoded_to_the_commune(app_on, data_copy):
    result = run(app_on, "import", str(DATA / "address_only.csv"))
    assert result.exit_code == 0, result.output
    p = _feature(data_copy, "imp-3")["properties"]
    assert p["location_precision"] == "commune" and p["commune_code"] == "11578"
    assert p["commune_2025"] == "Phường Thủy Nguyên" and p["commune_2025_from"] == "address"


def test_geojson(app_on, data_copy):
    result = run(app_on, "import", str(DATA / "points.geojson"))
    assert result.exit_code == 0, result.output
    assert _feature(data_copy, "imp-5")["properties"]["name_en"] == "Squid cake"


def test_vn2000_csv_with_crs(app_on, data_copy):
    result = run(app_on, "import", str(DATA / "vn2000_utm48.csv"), "--crs", "EPSG:3405")
    assert result.exit_code == 0, result.output
    x, y = _feature(data_copy, "imp-4")["geometry"]["coordinates"]
    assert abs(x - 106.89) < 1e-4 and abs(y - 20.80) < 1e-4
    # without --crs the metres are not degrees: refused
    out = importer.import_file(data_copy, DATA / "vn2000_utm48.csv", apply=False)
    assert not out.ok and "coordinates out of range" in str(out.problems)


def test_xlsx(app_on, data_copy, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["id", "name", "name_en", "category", "stars", "district", "address",
               "certified_date", "source", "lon", "lat"])
    ws.append(["xl-1", "Bánh đa cua", "Crab noodles", "Thực phẩm", 4.0, "Huyện Cát Hải",
               "Thị trấn Cát Hải, Huyện Cát Hải, Thành phố Hải Phòng", "2024-05-02",
               "QĐ 1", 106.89, 20.80])
    path = tmp_path / "list.xlsx"
    wb.save(path)
    result = run(app_on, "import", str(path))
    assert result.exit_code == 0, result.output
    p = _feature(data_copy, "xl-1")["properties"]
    assert p["stars"] == 4 and p["category"] == "food" and p["certified_year"] == 2024
    assert p["certified_date"] == "2024-05-02"


def test_zipped_shapefile_in_vn2000(app_on, data_copy, tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    gdf = gpd.GeoDataFrame(
        {"id": ["shp-1"], "name": ["Nem cua bể"], "name_en": ["Crab spring rolls"],
         "category": ["food"], "stars": [3], "district": ["Cát Hải"],
         "address": ["Thị trấn Cát Hải, Huyện Cát Hải, Thành phố Hải Phòng"],
         "source": ["QĐ 2"]},
        geometry=[Point(106.89, 20.80)], crs="EPSG:4326").to_crs("EPSG:3405")
    shp = tmp_path / "shp"
    shp.mkdir()
    gdf.to_file(shp / "products.shp", engine="pyogrio")
    path = tmp_path / "products.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in shp.iterdir():
            z.write(f, f.name)
    result = run(app_on, "import", str(path))
    assert result.exit_code == 0, result.output
    x, y = _feature(data_copy, "shp-1")["geometry"]["coordinates"]
    assert abs(x - 106.89) < 1e-5 and abs(y - 20.80) < 1e-5


def test_an_xlsx_named_csv_and_a_csv_named_xlsx_are_refused(data_copy, tmp_path):
    fake = tmp_path / "list.xlsx"
    fake.write_bytes((DATA / "lonlat.csv").read_bytes())
    out = importer.import_file(data_copy, fake, apply=False)
    assert "the name says Excel (.xlsx) but the content is text" in str(out.problems[0])


# -- history, rollback, lock, reload -------------------------------------------------------------

def test_history_and_rollback(app_on, data_copy):
    before = snapshot(data_copy)
    run(app_on, "import", str(DATA / "lonlat.csv"))
    after = snapshot(data_copy)
    history = run(app_on, "history").output
    old, new = re.findall(r"^([0-9a-f]{12}) ", history, re.M)[1], \
        re.findall(r"^([0-9a-f]{12}) ", history, re.M)[0]
    assert "<- current" in history.splitlines()[0]
    result = run(app_on, "rollback", old)
    assert result.exit_code == 0, result.output
    assert snapshot(data_copy) == before
    run(app_on, "rollback", new)
    assert snapshot(data_copy) == after
    assert run(app_on, "rollback", "ffffffffffff").exit_code != 0


def test_two_imports_cannot_interleave(data_copy):
    store = Store(data_copy)
    before = snapshot(data_copy)
    done = {}
    with store.lock():
        t = threading.Thread(target=lambda: done.setdefault(
            "out", importer.import_file(data_copy, DATA / "lonlat.csv")))
        t.start()
        time.sleep(1.0)
        assert t.is_alive() and snapshot(data_copy) == before
    t.join(30)
    assert done["out"].version and snapshot(data_copy) != before


def test_running_server_picks_up_a_new_version(app_on, data_copy):
    client = app_on.test_client()
    n = len(load_dataset(data_copy).products)
    first = client.get("/stats?lang=en").get_data(as_text=True)
    assert f"{n} products" in first
    out = importer.import_file(data_copy, DATA / "lonlat.csv")   # as another process would
    again = client.get("/stats?lang=en").get_data(as_text=True)
    assert out.added == 2 and f"{n + 2} products" in again


def test_stats_and_expiring(app_on):
    out = run(app_on, "stats").output
    assert re.match(r"\d+ products: \d+ at 3 stars", out)
    assert "By commune (from July 2025)" in out
    out = run(app_on, "expiring", "--months", "12").output
    assert "year only; 1 January assumed" in out
    html = app_on.test_client().get("/stats?units=new&lang=en").get_data(as_text=True)
    assert "By commune (from July 2025)" in html and "By district" not in html


# -- /admin ---------------------------------------------------------------------------------------

def _csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_admin_is_off_without_a_password_hash(app_on):
    assert app_on.test_client().get("/admin").status_code == 404


def test_admin_login_csrf_check_and_apply(data_copy):
    app = create_app({"TESTING": True, "DATA_DIR": str(data_copy), "SECRET_KEY": "k" * 32,
                      "ADMIN_PASSWORD_HASH": generate_password_hash("right horse")})
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"     # the page's words below are English
    token = _csrf(c.get("/admin").get_data(as_text=True))
    assert c.post("/admin/login", data={"username": "admin", "password": "right horse"}
                  ).status_code == 400
    assert c.post("/admin/login", data={"username": "admin", "password": "wrong",
                                        "csrf_token": token}
                  ).status_code == 403
    before = snapshot(data_copy)
    up = {"csrf_token": token, "file": (open(DATA / "lonlat.csv", "rb"), "lonlat.csv")}
    assert c.post("/admin/check", data=up, content_type="multipart/form-data"
                  ).status_code == 403      # not logged in
    assert c.post("/admin/login", data={"username": "admin", "password": "right horse",
                                        "csrf_token": token}
                  ).status_code == 302
    token = _csrf(c.get("/admin").get_data(as_text=True))
    bad = {"csrf_token": token, "file": (open(DATA / "star_zero.csv", "rb"), "star_zero.csv")}
    html = c.post("/admin/check", data=bad, content_type="multipart/form-data"
                  ).get_data(as_text=True)
    assert "is 0; expected one of 3, 4, 5" in html and "Apply</button>" not in html
    up = {"csrf_token": token, "file": (open(DATA / "lonlat.csv", "rb"), "lonlat.csv")}
    html = c.post("/admin/check", data=up, content_type="multipart/form-data"
                  ).get_data(as_text=True)
    assert "Apply</button>" in html and snapshot(data_copy) == before
    upload = re.search(r'name="upload" value="([0-9a-f]+)"', html).group(1)
    r = c.post("/admin/apply", data={"csrf_token": token, "upload": upload})
    assert r.status_code == 200 and "2 added" in r.get_data(as_text=True)
    assert snapshot(data_copy) != before


# -- the fault test -------------------------------------------------------------------------------

# Run in a process of its own (`python -c KILL_DRIVER source base work`): it imports the importer
# once, then, for each kill point, forks a child that runs the real import_file on its own copy
# of the data and SIGKILLs itself at that point.  The points are the moments just before each
# primitive geo/store.py calls while an import commits (opening a file for writing, a write, an
# fsync, os.replace), half way through each write (a torn temporary file or log line), and at the
# start and end of Store.commit (the latter still under the lock).  Event k+1 is "just after"
# event k.  A first child runs to the end and lists the events; the points are all of them, so
# they are fixed by the code, not by timing.  The kill is a real SIGKILL (no finally, no atexit,
# the lock dropped by the kernel); the fork saves the start-up of a process per kill.
KILL_DRIVER = r'''
import builtins, json, os, shutil, signal, sys, traceback
from pathlib import Path

import geo.store as store
from geo.importer import import_file

source, base, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
import_file(base, source, apply=False)      # warm the caches (geocoder tables) children inherit


def child(data_dir, kill_at, torn, trace):
    events = []
    real_os, real_open, real_commit = os, builtins.open, store.Store.commit
    root = os.path.realpath(data_dir)

    def name(path):
        rel = os.path.relpath(os.path.realpath(path), root)
        return rel.replace(f".{os.getpid()}.tmp", ".PID.tmp")

    def hit(label, tear=None):
        events.append(label)
        if len(events) - 1 == kill_at:
            if torn:
                tear()
            os.kill(os.getpid(), signal.SIGKILL)

    class File:
        def __init__(self, fh, path):
            self._fh, self._path = fh, path

        def __getattr__(self, attr):
            return getattr(self._fh, attr)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._fh.close()

        def write(self, data):
            def tear():
                self._fh.write(data[: len(data) // 2])
                self._fh.flush()
            hit(f"write {name(self._path)}", tear)
            return self._fh.write(data)

    def traced_open(path, mode="r", *args, **kwargs):
        if not set(mode) & set("wax+"):
            return real_open(path, mode, *args, **kwargs)
        hit(f"open {name(path)}")
        return File(real_open(path, mode, *args, **kwargs), path)

    class Os:
        def __getattr__(self, attr):
            return getattr(real_os, attr)

        def replace(self, src, dst):
            hit(f"replace {name(src)} -> {name(dst)}")
            real_os.replace(src, dst)

        def fsync(self, fd):
            # A kill point, but not flushed to the disk: a SIGKILL loses nothing the kernel
            # has (fsync is for power cuts, which no test here makes), and it saves seconds.
            hit(f"fsync {name(real_os.readlink(f'/proc/self/fd/{fd}'))}")

    def commit(self, *args, **kwargs):
        hit("commit starts")
        version = real_commit(self, *args, **kwargs)
        hit("commit returned, lock still held")
        return version

    store.os, store.open, store.Store.commit = Os(), traced_open, commit
    out = import_file(data_dir, source)
    if trace:
        Path(trace).write_text(json.dumps({"events": events, "version": out.version}))
    return out.version is not None


def fork(data_dir, kill_at=-1, torn=False, trace=None):
    pid = os.fork()
    if pid == 0:
        try:
            code = 0 if child(data_dir, kill_at, torn, trace) else 1
        except BaseException:
            traceback.print_exc()
            code = 2
        os._exit(code)
    return os.waitpid(pid, 0)[1]


status = fork(shutil.copytree(base, work / "ref"), trace=work / "trace.json")
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
trace = json.loads((work / "trace.json").read_text())
events = trace["events"]
# The first version is recorded object by object, each written by the same code: kill in the
# first of them only.
objects = [k for k, e in enumerate(events[:events.index("open .history/log.jsonl")])
           if e.startswith("open .history/objects/")]
skip = range(objects[1], events.index("open .history/log.jsonl")) if len(objects) > 1 \
    else range(0)
runs = []
for k, label in enumerate(events):
    if k in skip:
        continue
    for torn in (False, True) if label.startswith("write ") else (False,):
        d = shutil.copytree(base, work / f"kill-{k:02d}{'-torn' if torn else ''}")
        status = fork(d, k, torn)
        runs.append({"dir": str(d), "at": k, "torn": torn, "label": label,
                     "killed": os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL})
print(json.dumps({**trace, "ref": str(work / "ref"), "skipped": list(skip), "runs": runs}))
'''


def _sha256s(data_dir: Path) -> dict[str, str]:
    return {rel: hashlib.sha256(b).hexdigest() for rel, b in snapshot(data_dir).items()}


def test_import_killed_at_random_points_leaves_old_or_new(tmp_path, data_copy):
    """An import SIGKILLed at any point of its commit leaves every data file the old bytes or
    every one the new, the app loads, and the next import works (lock free, temporaries gone)."""
    source = DATA / "lonlat.csv"
    # As in a fresh clone (data/.history/ is local to each server): the import also records the
    # first version, so the kills cover that too.
    shutil.rmtree(data_copy / HISTORY, ignore_errors=True)
    work = tmp_path / "kills"
    work.mkdir()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", KILL_DRIVER, str(source), str(data_copy),
                           str(work)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    events, runs = result["events"], result["runs"]
    old, new = _sha256s(data_copy), _sha256s(Path(result["ref"]))
    changed = [rel for rel in old if old[rel] != new[rel]]
    assert changed == [FILES["products"]]
    assert result["version"] == data_version(Path(result["ref"]))

    outcomes, new_seen = {}, False
    for run_ in runs:
        d, what = Path(run_["dir"]), f"killed before {run_['label']!r} (event {run_['at']})" + (
            ", half written" if run_["torn"] else "")
        assert run_["killed"], f"{what}: the child was not killed there"
        now = _sha256s(d)
        assert now in (old, new), f"{what}: a mix of versions"
        outcome = outcomes[run_["at"], run_["torn"]] = "new" if now == new else "old"
        create_app({"TESTING": True, "DATA_DIR": str(d)})          # the app loads
        # The lock is free (the kernel dropped it with the process); taking it removes stale
        # temporary files.
        with Store(d).lock(timeout=1):
            pass
        assert not list(d.rglob("*.tmp")), what
        # After a torn write, with the data ahead of its history (the first new outcome), or
        # with the commit done, the next import works and the history lists the new version as
        # current (and the old one before it).
        first_new, new_seen = outcome == "new" and not new_seen, new_seen or outcome == "new"
        if run_["torn"] or first_new or run_["at"] == len(events) - 1:
            out = importer.import_file(d, source)
            assert out.ok and out.version == result["version"], what
            assert _sha256s(d) == new, what
            versions = [v.version for v in Store(d).versions()]
            assert versions[-1] == result["version"], what
            assert data_version(data_copy) in versions, what
    assert set(outcomes.values()) == {"old", "new"}, outcomes      # both were seen

    # The kill points cover the moments that matter: before the temporary file, a torn one,
    # after it before os.replace, after os.replace (before the folder's fsync, before the log
    # line), a torn log line, after it, the commit done with the lock still held.  Every event
    # is a kill point (each write also half done) but those of the objects after the first one
    # in the record of the first version (the same code again).
    products, log = FILES["products"], f"{HISTORY}/log.jsonl"
    tmp = f".{products}.PID.tmp"
    swap = events.index(f"replace {tmp} -> {products}")
    assert events[swap - 3: swap] == [f"open {tmp}", f"write {tmp}", f"fsync {tmp}"]
    assert events[swap + 1] == "fsync ."                    # the folder, after the swap
    last_log = max(i for i, e in enumerate(events) if e == f"write {log}")
    assert swap < last_log and events[-1] == "commit returned, lock still held"
    skipped = set(result["skipped"])
    assert all(events[k].split()[1].startswith(".history/objects") for k in skipped)
    assert sorted(outcomes) == sorted(
        [(k, False) for k in range(len(events)) if k not in skipped]
        + [(k, True) for k, e in enumerate(events) if k not in skipped and e.startswith("write ")])
    # The swap is the moment the new version appears: never earlier, never lost later.
    assert {k: o for (k, _), o in outcomes.items()} == {
        k: "new" if k > swap else "old" for k, _ in outcomes}


@pytest.mark.parametrize("suffix,driver", [(".gpkg", "GPKG"), (".kml", "KML")])
def test_geopackage_and_kml(data_copy, tmp_path, suffix, driver):
    import geopandas as gpd
    from shapely.geometry import Point

    gdf = gpd.GeoDataFrame(
        {"id": ["gis-1"], "name": ["Nem"], "name_en": ["Spring rolls"], "category": ["food"],
         "stars": [3], "district": ["Cát Hải"],
         "address": ["Thị trấn Cát Hải, Huyện Cát Hải, Thành phố Hải Phòng"],
         "source": ["QĐ 3"]}, geometry=[Point(106.89, 20.80)], crs="EPSG:4326")
    path = tmp_path / f"products{suffix}"
    gdf.to_file(path, driver=driver, engine="pyogrio")
    out = importer.import_file(data_copy, path)
    assert out.ok and out.version, [str(p) for p in out.problems]
    assert _feature(data_copy, "gis-1")["properties"]["stars"] == 3


def test_hai_phong_local_vn2000_zone(data_copy, tmp_path):
    from pyproj import Transformer

    region = load_region(data_copy)
    assert region.vn2000_name == "VN2000-HP"
    x, y = Transformer.from_crs("EPSG:4326", importer.resolve_crs("VN2000-HP", region),
                                always_xy=True).transform(106.89, 20.80)
    path = tmp_path / "local.csv"
    path.write_text("id,name,name_en,category,stars,district,address,source,x,y\n"
                    f"hp-1,Mắm,Sauce,food,3,Cát Hải,\"Thị trấn Cát Hải, Huyện Cát Hải\",QĐ,"
                    f"{x:.2f},{y:.2f}\n", encoding="utf-8")
    out = importer.import_file(data_copy, path, crs="VN2000-HP")
    assert out.ok, [str(p) for p in out.problems]
    lon, lat = _feature(data_copy, "hp-1")["geometry"]["coordinates"]
    assert abs(lon - 106.89) < 1e-5 and abs(lat - 20.80) < 1e-5
