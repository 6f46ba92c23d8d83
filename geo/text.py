"""The one place for text rules: escaping for display, and Vietnamese folding for search."""
from __future__ import annotations

import html
import json
import unicodedata

# Characters html.escape leaves alone but that matter where folium (and our own templates)
# put text: inside JavaScript template literals a backtick ends the string, `${` starts an
# expression and a backslash starts an escape.  As entities they are inert in both places.
_JS_TEMPLATE_ENTITIES = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def escape(value: object) -> str:
    """Escape any value from data for HTML text or attributes, safe inside a JS string too."""
    if value is None:
        return ""
    return html.escape(str(value), quote=True).translate(_JS_TEMPLATE_ENTITIES)


def script_json(value: object) -> str:
    """JSON for a <script> element: no `</script>`, no HTML-significant characters."""
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def fold(text: str | None) -> str:
    """Lower-case, strip Vietnamese diacritics; đ/Đ become d ("Đồ Sơn" -> "do son")."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())
