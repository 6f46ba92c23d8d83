"""/stats and /expiring: the public statistics and the certificates ending soon."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, render_template_string, request

from geo import stats

from .plain_page import PAGE
from .state import state

bp = Blueprint("stats", __name__)

STATS = PAGE.replace("{% block body %}{% endblock %}", """
<p><strong>{{ s.total }}</strong> (data version {{ version }})</p>
<p>Units: <a href="?units=old">districts before July 2025</a> ·
 <a href="?units=new">communes from July 2025</a> · <a href="{{ url_for('stats.expiring_page') }}">certificates ending soon</a></p>
{% for title, groups in sections %}
<h2>{{ title }}</h2>
<table><thead><tr><th scope="col">unit</th><th scope="col">products</th>
<th scope="col">3 stars</th><th scope="col">4 stars</th><th scope="col">5 stars</th></tr></thead>
<tbody>{% for g in groups %}<tr><th scope="row">{{ g.label }}</th><td>{{ g.total }}</td>
<td>{{ g.count(3) }}</td><td>{{ g.count(4) }}</td><td>{{ g.count(5) }}</td></tr>{% endfor %}
</tbody></table>
{% endfor %}""")

EXPIRING = PAGE.replace("{% block body %}{% endblock %}", """
<form method="get"><label>Within <input type="number" name="months" min="0" max="120"
 value="{{ months }}"> months</label> <button>Show</button></form>
<p>{{ items|length }} product(s) with a certificate (valid 36 months) ending by {{ limit }}.
Where only the year of certification is known, 1 January of that year is assumed.</p>
<table><thead><tr><th scope="col">ends</th><th scope="col">status</th><th scope="col">product</th>
<th scope="col">district</th><th scope="col">stars</th><th scope="col">certified</th></tr></thead>
<tbody>{% for e in items %}<tr><td>{{ e.expires }}</td><td>{{ e.status(today) }}</td>
<td>{{ e.name }}</td><td>{{ e.district }}</td><td>{{ e.stars }}</td>
<td>{{ e.certified if e.date_known else e.certified.year ~ ' (year only)' }}</td></tr>{% endfor %}
</tbody></table>
{% if unknown %}<p>{{ unknown }} product(s) have no certification year and are not listed.</p>{% endif %}""")


def _records() -> list[dict]:
    frame = state().products
    cols = [c for c in frame.columns if c not in ("geometry", "_folded")]
    return [{c: r[c] for c in cols} for _, r in frame.iterrows()]


@bp.get("/stats")
def stats_page():
    st = state()
    s = st.cached(("ocop_stats",), lambda: stats.product_stats(_records()))
    units = request.args.get("units")
    sections = []
    if units in (None, "", "old"):
        sections.append(("By district (before July 2025)", s["by_district"]))
    if units in (None, "", "new"):
        sections.append(("By commune (from July 2025)", s["by_commune_2025"]))
    sections += [("By OCOP group", s["by_category"]), ("By stars", s["by_stars"])]
    return render_template_string(STATS, title="OCOP statistics", s=s, sections=sections,
                                  version=st.version)


@bp.get("/expiring")
def expiring_page():
    try:
        months = max(0, min(120, int(request.args.get("months", "6"))))
    except ValueError:
        abort(400)
    today = date.today()
    items, unknown = stats.expiring(_records(), months, today)
    return render_template_string(EXPIRING, title="OCOP certificates ending soon", items=items,
                                  unknown=unknown, months=months, today=today,
                                  limit=stats.add_months(today, months))
