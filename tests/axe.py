"""axe-core (npm, pinned in package.json) in a Playwright page: `run_axe(page)` returns the
violations a person would meet, `format_violations` makes them readable in an assertion.

The script is added with `page.evaluate`, not a <script> tag: the app's Content-Security-Policy
allows only its own nonce'd scripts, and evaluate is the browser's devtools channel, which the
policy does not govern.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

AXE_JS = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
# Minor issues are advice; these are the ones that stop or slow someone down.
IMPACTS = ("critical", "serious", "moderate")

RUN_JS = """async ([include, impacts]) => {
  const r = await axe.run(include ? {include: include} : document,
                          {resultTypes: ['violations']});
  return r.violations.filter(v => impacts.includes(v.impact)).map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary,
                              html: n.html.slice(0, 200)}))}));
}"""


def axe_source() -> str:
    """axe.min.js; missing: a skip on a developer's machine, a failure in CI (CI=true)."""
    if not AXE_JS.exists():
        message = "axe-core missing: run `npm ci` at the repository root (scripts/test.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE_JS.read_text(encoding="utf-8")


def run_axe(page, include=None) -> list[dict]:
    """Violations of impact critical, serious or moderate on the page as it is now (or only
    inside the CSS selectors `include`): [{id, impact, help, helpUrl, nodes: [{target,
    summary, html}]}]."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    if isinstance(include, str):
        include = [include]
    return page.evaluate(RUN_JS, [include, list(IMPACTS)])


def format_violations(violations: list[dict]) -> str:
    """One paragraph per rule: what is wrong and where, for an assertion message."""
    out = []
    for v in violations:
        out.append(f"{v['impact']}: {v['id']}: {v['help']} ({v['helpUrl']})")
        for n in v["nodes"][:5]:
            out.append(f"    at {' '.join(map(str, n['target']))}: "
                       f"{' '.join((n['summary'] or '').split())[:300]}")
        if len(v["nodes"]) > 5:
            out.append(f"    … and {len(v['nodes']) - 5} more")
    return "\n".join(out)
