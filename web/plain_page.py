"""The one layout of the plain pages (templates/base.html): the list, nearby, /stats,
/expiring, /admin, the embed builder and the error pages.  Each is in the request's language
(web/i18n.py select_locale), links back to the map and to itself in the other language."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import render_template, request
from flask_babel import get_locale

from .i18n import AUTONYMS, DEFAULT_LANG, messages


def page_lang() -> str:
    return str(get_locale() or DEFAULT_LANG)


def page_context(path: str | None = None) -> dict:
    """What templates/base.html needs: the language, its UI strings and the switch, which
    keeps the rest of the query (the same filters, in the other language).  `path`: where
    the switch goes when not this URL (the answer to a form's POST)."""
    lang = page_lang()
    other = "en" if lang == "vi" else "vi"
    args = request.args.to_dict(flat=False) if path is None else {}
    args["lang"] = [other]
    return {"lang": lang, "M": messages(), "other_lang": other,
            "other_lang_name": AUTONYMS[other],
            "other_lang_url": f"{path or request.path}?{urlencode(args, doseq=True)}"}


def render_page(template: str, switch_path: str | None = None, **context) -> str:
    """A template extending base.html, in the request's language."""
    return render_template(template, **{**page_context(switch_path), **context})
