"""`flask --app app ocop ...`: check, import, history, rollback, stats, expiring.

Every write goes through geo/importer.import_file / geo/store.Store: all or nothing, atomic,
the previous version kept, one writer at a time.  `init_app` also wires what the running
server needs to follow the data (web/state.refresh_state) and the /stats and /admin pages.
"""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from geo import importer, stats
from geo.load import DataError
from geo.store import Store, StoreError

from . import audit
from .cli_users import user as user_cmd
from .state import refresh_state, state

ocop = AppGroup("ocop", help="Check, import and roll back the map's data; statistics.")

KIND = click.Choice(["products", "destinations", "districts"])


def _data_dir() -> Path:
    return Path(current_app.config["DATA_DIR"])


def _progress(rows, total):
    from tqdm import tqdm

    return tqdm(rows, total=total, unit="row", file=sys.stderr, leave=False,
                disable=total < 200 or None, desc="checking")


def _print_outcome(out: importer.Outcome) -> None:
    imp = out.imp
    errors = [p for p in out.problems if p.severity == "error"]
    warnings = [p for p in out.problems if p.severity == "warning"]
    click.echo(f"{imp.path.name}: {imp.format or '?'} file, {imp.kind or '?'}, "
               f"{len(imp.features)} row(s); coordinates from {imp.crs}; "
               f"{len(errors)} error(s), {len(warnings)} warning(s)")
    for p in out.problems:
        click.echo(f"  {p}")


def _options(f):
    for opt in reversed([
        click.option("--kind", type=KIND, default=None,
                     help="What the file holds (default: guessed from its columns)."),
        click.option("--crs", default=None,
                     help="CRS of coordinates when the file declares none, e.g. EPSG:3405 "
                          "(VN-2000 / UTM 48N) or the local VN-2000 zone named in data/region.json "
                          "(VN2000-HP for Hải Phòng)."),
        click.option("--repair", is_flag=True,
                     help="Repair invalid polygons (close rings, fix self-intersections, "
                          "ring order) instead of refusing them."),
        click.option("--replace", is_flag=True,
                     help="Replace the whole collection by the file (default: merge by id)."),
        click.option("--sheet", default=None,
                     help="The Excel sheet to read (default: every sheet whose header row "
                          "names known columns, else the first)."),
    ]):
        f = opt(f)
    return f


@ocop.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@_options
@click.option("--diff", "show_diff", is_flag=True,
              help="List what the import would change: records added and removed, each "
                   "changed field old -> new, points moved.")
@click.option("--diff-map", type=click.Path(dir_okay=False, writable=True),
              help="Write a map (SVG) of the points the import would add, move or remove.")
def check_cmd(file, kind, crs, repair, replace, show_diff, diff_map, **more):
    """Report what importing FILE would do; change nothing."""
    out = importer.import_file(_data_dir(), file, kind=kind, crs=crs, repair=repair,
                               replace=replace, apply=False, progress=_progress, **more)
    _print_outcome(out)
    if not out.ok:
        raise click.ClickException("the file has errors; an import would change nothing")
    if show_diff and out.diff is not None:
        for line in out.diff.lines(importer.ID_FIELD[out.imp.kind]):
            click.echo(line)
    if diff_map and out.diff is not None:
        from geo.import_diff import diff_map_svg
        from geo.load import load_dataset

        dataset = load_dataset(_data_dir())
        svg = diff_map_svg(dataset.districts, out.diff, dataset.region.view)
        if svg is None:
            click.echo("no point is added, moved or removed: no map written")
        else:
            Path(diff_map).write_text(svg, encoding="utf-8")
            click.echo(f"map of the changes: {diff_map}")
    click.echo(f"OK: an import would add {out.added} and replace {out.replaced} "
               f"{out.imp.kind}" + (" (and remove every other one: --replace)" if replace else ""))


@ocop.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@_options
def import_cmd(file, kind, crs, repair, replace, sheet):
    """Import FILE (products, destinations or districts): all or nothing."""
    try:
        out = importer.import_file(_data_dir(), file, kind=kind, crs=crs, repair=repair,
                                   replace=replace, progress=_progress, sheet=sheet)
    except StoreError as e:
        raise click.ClickException(str(e)) from e
    _print_outcome(out)
    if not out.ok or out.version is None:
        audit.record_cli(_data_dir(), "import", ok=False, file=Path(file).name,
                         reason="has_errors" if not out.ok else "nothing_changed")
        raise click.ClickException("nothing was changed")
    audit.record_cli(_data_dir(), "import", file=Path(file).name, version=out.version,
                     previous=out.previous, added=out.added, replaced=out.replaced)
    click.echo(f"imported: {out.added} added, {out.replaced} replaced; data version "
               f"{out.version} (before: {out.previous}; undo with "
               f"`flask --app app ocop rollback {out.previous}`)")


@ocop.command("history")
def history_cmd():
    """List the data versions, newest first."""
    store = Store(_data_dir())
    current = store.current_version()
    versions = store.versions()
    if not versions:
        click.echo(f"{current}  (current; no import yet)")
        return
    marked = False
    for v in reversed(versions):
        mark = "  <- current" if v.version == current and not marked else ""
        marked = marked or bool(mark)
        click.echo(f"{v.version}  {v.time}  {v.action:<9} {v.note}{mark}")
    if versions[-1].version != current:
        click.echo(f"{current}  (current; changed outside `ocop import`)")


@ocop.command("rollback")
@click.argument("version")
def rollback_cmd(version):
    """Make the data what it was in VERSION (see `ocop history`)."""
    store = Store(_data_dir())
    try:
        with store.lock():
            target = [v for v in store.versions() if v.version.startswith(version)]
            if target:
                changes = {rel: (store.objects / sha).read_bytes()
                           for rel, sha in target[-1].files.items() if sha}
                problems = importer.check_with(_data_dir(), changes)
                if problems:
                    for p in problems:
                        click.echo(f"  {p}")
                    raise click.ClickException(f"version {target[-1].version} does not pass "
                                               "today's checks; nothing was changed")
            before = store.current_version()
            new = store.rollback(version)
    except (StoreError, OSError) as e:
        raise click.ClickException(str(e)) from e
    audit.record_cli(_data_dir(), "rollback", version=new, previous=before)
    click.echo(f"data version is now {new} (was {before})")


def _products() -> list[dict]:
    refresh_state(current_app, force=True)
    frame = state().products
    cols = [c for c in frame.columns if c not in ("geometry", "_folded")]
    return [{c: r[c] for c in cols} for _, r in frame.iterrows()]


@ocop.command("stats")
@click.option("--by", "by", type=click.Choice(["all", "district", "commune", "category",
                                                "stars"]), default="all")
def stats_cmd(by):
    """Counts by district (before 2025), 2025 commune, OCOP group and stars: every unit,
    zero ones too, as /stats shows them."""
    records = _products()
    ds = state().dataset
    tables = stats.report_tables(records, stats.units_of(ds.districts),
                                 stats.units_of(ds.communes), state().as_of)
    click.echo(stats.star_line([int(r["stars"]) for r in records]))
    sections = [("district", "By district (before July 2025)", "districts"),
                ("commune", "By commune (from July 2025)", "communes"),
                ("category", "By OCOP group", "categories"),
                ("stars", "By stars", "stars")]
    for key, title, table in sections:
        if by in ("all", key):
            click.echo(f"\n{title}:")
            for row in tables[table].rows:
                click.echo(f"  {row.name}: {row.line}")


@ocop.command("expiring")
@click.option("--months", type=click.IntRange(0, 120), default=6, show_default=True)
def expiring_cmd(months):
    """Products whose certificate (36 months) ends within N months, expired ones included."""
    today = date.today()
    items, unknown = stats.expiring(_products(), months, today)
    click.echo(f"{len(items)} product(s) with a certificate ending by "
               f"{stats.add_months(today, months).isoformat()}:")
    for e in items:
        when = e.certified.isoformat() if e.date_known else f"{e.certified.year} (year only; " \
                                                             "1 January assumed)"
        click.echo(f"  {e.expires.isoformat()}  {e.status(today):<8}  {e.id}  {e.name} "
                   f"({e.district}, {e.stars} stars; certified {when})")
    if unknown:
        click.echo(f"{unknown} product(s) have no certification year and are not listed.")


def init_app(app: Flask) -> None:
    """Register the `ocop` commands and the data reload check."""
    app.cli.add_command(ocop)
    ocop.add_command(user_cmd)      # `ocop user ...`: the /admin accounts (web/cli_users.py)

    @app.before_request
    def _follow_the_data():
        refresh_state(app)      # returns None: the request goes on


__all__ = ["ocop", "init_app", "DataError"]
