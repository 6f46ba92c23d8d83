"""The one place for text rules: escaping for display, Vietnamese folding for search, and
the Vietnamese sort order.

Vietnamese sort order (`vi_key`).  PyICU does not install from a wheel (it needs ICU's
headers and a compiler), so the order is a documented key, not ICU's collation:

1. primary, letter by letter: the Vietnamese alphabet a ă â b c d đ e ê g h i k l m n o ô ơ
   p q r s t u ư v x y, case-insensitive ("Đ" after every "D…", "Ư" after every "U…"; other
   characters by code point, a space before any letter);
2. then the tone marks, left to right, in the dictionary order: none, grave (huyền), hook
   (hỏi), tilde (ngã), acute (sắc), dot below (nặng);
3. then lower case before upper case, then the text itself (a total order).
"""
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


# -- Vietnamese collation --------------------------------------------------------------------

# Marks that make a letter of its own (ă â ê ô ơ ư) and their place after the bare letter.
_LETTER_MARKS = {"\u0306": 1, "\u0302": 2, "\u031b": 3}    # breve, circumflex, horn
# Tone marks, in dictionary order (none = 0).
_TONE_MARKS = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}


def vi_key(text: str | None) -> tuple:
    """Sort key for Vietnamese text (see the module docstring)."""
    primary: list[tuple[str, int]] = []
    tones: list[int] = []
    cases: list[int] = []
    for ch in unicodedata.normalize("NFD", text or ""):
        if unicodedata.combining(ch):
            if not primary:
                continue
            if ch in _LETTER_MARKS:
                primary[-1] = (primary[-1][0], _LETTER_MARKS[ch])
            elif ch in _TONE_MARKS:
                tones[-1] = _TONE_MARKS[ch]
            else:
                tones[-1] = 10 + ord(ch)        # any other mark: after the tones
            continue
        low = ch.casefold()
        primary.append(("d", 1) if low == "đ" else (low, 0))
        tones.append(0)
        cases.append(0 if ch == low else 1)
    return tuple(primary), tuple(tones), tuple(cases), text or ""


def vi_sorted(items, key=lambda x: x):
    return sorted(items, key=lambda x: vi_key(key(x)))
