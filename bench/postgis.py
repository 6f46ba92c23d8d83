"""A throw-away PostGIS on 127.0.0.1 for pygeoapi's PostgreSQL provider (bench/serve.py).

pygeoapi evaluates CQL2 filters, sortby and bbox only in its database providers (PostgreSQL,
MySQL, Elasticsearch, ...): its GeoJSON, CSV and SQLite/GeoPackage providers ignore `filter`
and `sortby`, and the GeoJSON one `bbox` too.  So the filtered rows of the benchmark give
pygeoapi the app's own GeoPackage download loaded into PostGIS (Debian's PostgreSQL and
PostGIS; `ogr2ogr` from gdal-bin), the fastest way it has to answer them.

The cluster lives in a temporary directory, listens on 127.0.0.1 only (trust authentication,
no durability: it is thrown away), runs in its own process group and is stopped (and its
directory removed) at the end, also on an error or Ctrl-C.  As root it runs as `postgres`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench.common import HOST, free_port, stop_group

USER = "bench"
INSTALL = "apt-get install -y postgresql postgis gdal-bin"


def pg_bin() -> Path:
    """The newest PostgreSQL's bin directory that has PostGIS, or exit saying what to install."""
    for bin_dir in sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                          key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                          reverse=True):
        control = Path("/usr/share/postgresql") / bin_dir.parent.name / "extension" / \
            "postgis.control"
        if (bin_dir / "postgres").exists() and control.exists():
            return bin_dir
    raise SystemExit(f"PostgreSQL with PostGIS is not installed; the filtered rows of this "
                     f"benchmark need it for pygeoapi: {INSTALL}")


def ogr2ogr() -> str:
    found = shutil.which("ogr2ogr")
    if found is None:
        raise SystemExit(f"ogr2ogr is not installed; this benchmark loads PostGIS with it: "
                         f"{INSTALL}")
    return found


def _as_owner(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PostGIS:
    def __init__(self, bin_dir: Path, root: Path, port: int, log: Path):
        self.bin, self.root, self.port, self.log = bin_dir, root, port, log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL pygeoapi connects with."""
        return f"postgresql+psycopg2://{USER}@{HOST}:{self.port}/postgres"

    @property
    def ogr_dsn(self) -> str:
        return f"PG:host={HOST} port={self.port} user={USER} dbname=postgres"

    def psql(self, sql: str) -> None:
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-p",
                        str(self.port), "-U", USER, "-d", "postgres", "-c", sql],
                       check=True, capture_output=True, timeout=120)

    def versions(self) -> str:
        out = subprocess.run(["psql", "-X", "-A", "-t", "-h", HOST, "-p", str(self.port), "-U",
                              USER, "-d", "postgres", "-c",
                              "SELECT current_setting('server_version'), postgis_lib_version()"],
                             capture_output=True, text=True, timeout=60)
        pg, _, gis = out.stdout.strip().partition("|")
        return f"PostgreSQL {pg.split()[0] if pg else '?'}, PostGIS {gis or '?'}"

    def load(self, gpkg: Path, table: str, id_field: str) -> None:
        """The GeoPackage's one layer as `table`, keyed by `id_field`, with a spatial index."""
        subprocess.run([ogr2ogr(), "-f", "PostgreSQL", self.ogr_dsn, str(gpkg), "-nln", table,
                        "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-lco",
                        "SPATIAL_INDEX=GIST", "-overwrite"],
                       check=True, capture_output=True, timeout=600)
        # pygeoapi reads a feature by its table's primary key: the collection's id.
        self.psql(f"ALTER TABLE {table} DROP COLUMN fid; "
                  f"ALTER TABLE {table} ADD PRIMARY KEY ({id_field}); ANALYZE {table};")


@contextmanager
def postgis(log_dir: Path):
    """A running PostGIS (with the extension created); stopped and removed on exit."""
    bin_dir = pg_bin()
    if shutil.which("psql") is None:
        raise SystemExit(f"psql is not installed: {INSTALL}")
    root = Path(tempfile.mkdtemp(prefix="bench-postgis-"))
    db = None
    try:
        root.chmod(0o755)
        data = root / "data"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            shutil.chown(data, "postgres")
        subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A",
                                  "trust", "-E", "UTF8", "--locale=C.UTF-8", "-N"]),
                       check=True, capture_output=True, timeout=300)
        db = PostGIS(bin_dir, root, free_port(), log_dir / "postgis.log")
        with open(db.log, "wb") as log:
            db.proc = subprocess.Popen(
                _as_owner([str(bin_dir / "postgres"), "-D", str(data), "-p", str(db.port),
                           "-c", f"listen_addresses={HOST}", "-c",
                           f"unix_socket_directories={root}", "-c", "fsync=off", "-c",
                           "synchronous_commit=off", "-c", "full_page_writes=off"]),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + 120
        while subprocess.run([str(bin_dir / "pg_isready"), "-q", "-h", HOST, "-p",
                              str(db.port)], timeout=30).returncode != 0:
            if db.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n"
                                   f"{db.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.25)
        db.psql("CREATE EXTENSION postgis;")
        yield db
    finally:
        if db is not None and db.proc is not None:
            stop_group(db.proc, grace=20)
        shutil.rmtree(root, ignore_errors=True)
