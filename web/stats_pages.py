"""/stats and /expiring: the public statistics and the certificates ending soon."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, request

from geo import stats
from geo.categories import CATEGORIES
from geo.certificates import day_text

from .i18n import messages
from .plain_page import page_lang, render_page
from .state import state

bp = Blueprint("stats", __name__)


def _records() -> list[dict]:
    frame = state().products
    cols = [c for c in frame.columns if c not in ("geometry", "_folded")]
    return [{c: r[c] for c in cols} for _, r in frame.iterrows()]


def _labelled(groups, label) -> list[dict]:
    """Table rows: each group's label in the page's language (a unit's name is data and
    keeps its Vietnamese), its total and its count per star level."""
    M = messages()
    return [{"label": label(g) if g.key else M["unknown_value"], "total": g.total,
             "stars": [g.count(s) for s in stats.STARS]} for g in groups]


@bp.get("/stats")
def stats_page():
    st, lang, M = state(), page_lang(), messages()
    s = st.cached(("ocop_stats",), lambda: stats.product_stats(_records()))
    units = request.args.get("units")

    def category(g):
        cat = CATEGORIES.get(g.key)
        return (cat.en if lang == "en" else cat.vi) if cat else g.label

    # (heading, first column, rows); districts and communes by their names (data).
    sections = []
    if units in (None, "", "old"):
        sections.append((M["hb_by_district"], M["district"],
                         _labelled(s["by_district"], lambda g: g.label)))
    if units in (None, "", "new"):
        sections.append((M["stats_by_commune"], M["address_2025"],
                         _labelled(s["by_commune_2025"], lambda g: g.label)))
    sections += [(M["hb_by_category"], M["category"], _labelled(s["by_category"], category)),
                 (M["stats_by_stars"], M["stars"],
                  _labelled(s["by_stars"], lambda g: M["stars_n"].format(n=g.key)))]
    stars = [int(r) for r in st.products["stars"]]
    return render_page("stats.html", total=stats.count_line(stars, lang, M),
                       sections=sections, star_levels=stats.STARS, version=st.version)


@bp.get("/expiring")
def expiring_page():
    try:
        months = max(0, min(120, int(request.args.get("months", "6"))))
    except ValueError:
        abort(400)
    today = date.today()
    items, unknown = stats.expiring(_records(), months, today)
    return render_page("expiring.html", items=items, unknown=unknown, months=months,
                       today=today, day=day_text,
                       limit=day_text(stats.add_months(today, months)))
