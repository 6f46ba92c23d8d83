"""Every setting checked at start-up: a wrong value stops the app with a message naming it.

Settings arrive from app.py's DEFAULTS, from `OCOP_<NAME>` environment variables (which Flask
reads as JSON when they parse as JSON, else as text: `false` is a boolean, `25` a number,
`https://a.example` text) and from the dict given to `create_app`.  One validator per setting
returns the value the app uses (a boolean written `yes` becomes True) or raises ValueError
saying what is accepted; `validate` collects every problem, so one start shows them all.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

ENV_PREFIX = "OCOP_"


class SettingsError(ValueError):
    """Settings with wrong values; the message lists each one, its variable and the fix."""


# -- the kinds of value ---------------------------------------------------------------------

def _text(value, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        kind = "a number" if isinstance(value, (int, float)) else type(value).__name__
        raise ValueError(f"must be text, got {kind} (an environment value that reads as JSON "
                         "is taken as JSON: write it in double quotes, e.g. '\"123\"')")
    if not empty and not value.strip():
        raise ValueError("must not be empty")
    return value


def text(value) -> str:
    return _text(value)


def nonempty_text(value) -> str:
    return _text(value, empty=False)


def optional_text(value) -> str | None:
    """Unset (None) or non-empty text (SECRET_KEY, ADMIN_PASSWORD_HASH)."""
    if value is None:
        return None
    if isinstance(value, bytes) and value:
        return value
    return _text(value, empty=False)


TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    raise ValueError("must be true or false (also accepted: 1/0, yes/no, on/off)")


def integer(minimum: int, maximum: int | None = None):
    def check(value) -> int:
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < minimum or (maximum is not None and value > maximum):
            span = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
            raise ValueError(f"must be a whole number, {span}")
        return value
    return check


def positive_number(value) -> float | int:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError("must be a number greater than 0")
    return value


# -- URLs and origins -----------------------------------------------------------------------

TILE_PLACEHOLDERS = {"s", "z", "x", "y", "-y", "r"}   # what Leaflet fills in a tile URL


def tile_url(value) -> str:
    form = ("accepted: an http(s) URL with {z}, {x} and {y} (and optionally {s}, {r}), e.g. "
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    if not text(value).strip():
        raise ValueError(f"must not be empty; {form}")
    parts = urlsplit(value.replace("{s}", "s"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"is not an absolute http(s) URL; {form}")
    names = set(re.findall(r"\{([^}]*)\}", value))
    missing = [f"{{{n}}}" for n in ("z", "x", "y") if n not in names and not
               (n == "y" and "-y" in names)]
    unknown = sorted(f"{{{n}}}" for n in names - TILE_PLACEHOLDERS)
    if missing or unknown:
        what = (f"lacks {', '.join(missing)}" if missing else "") + \
            ("; " if missing and unknown else "") + \
            (f"has placeholders Leaflet cannot fill: {', '.join(unknown)}" if unknown else "")
        raise ValueError(f"{what}; {form}")
    return value


ORIGINS_FORM = ("accepted: origins scheme://host[:port] separated by spaces (e.g. "
                "'https://dulich.example.vn https://www.example.com'), '*' for every site, or "
                "empty for this site only")


def origin_problem(origin: str) -> str | None:
    """Why `origin` is not an http(s) origin (CSP allows a leading *. in the host).  A lone
    trailing slash, as origins are often written, is no path."""
    origin = origin[:-1] if origin.endswith("/") and origin.count("/") == 3 else origin
    if "://" not in origin:
        return f"{origin!r} has no scheme (e.g. https://{origin})"
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return f"{origin!r}: the scheme must be http or https"
    if parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")):
        return f"{origin!r} has a path; an origin is scheme://host[:port], nothing after"
    if parts.username is not None or parts.password is not None:
        return f"{origin!r} has a user name; an origin is scheme://host[:port] only"
    host = parts.hostname or ""
    if not (re.fullmatch(r"(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*", host)
            or (":" in host and re.fullmatch(r"[0-9a-f:.]+", host))):
        return f"{origin!r} has no valid host name (a non-ASCII name in its xn-- form)"
    try:
        parts.port
    except ValueError:
        return f"{origin!r} has an invalid port"
    return None


def embed_origins(value) -> str:
    if isinstance(value, (list, tuple)):
        value = " ".join(value)
    value = text(value).strip()
    if "," in value:
        raise ValueError(f"separate origins with spaces, not commas; {ORIGINS_FORM}")
    origins = [o[:-1] if o.endswith("/") and o.count("/") == 3 else o for o in value.split()]
    if "*" in origins and len(origins) > 1:
        raise ValueError(f"'*' already allows every site: write it alone; {ORIGINS_FORM}")
    problems = [p for p in map(origin_problem, origins) if p] if origins != ["*"] else []
    if problems:
        raise ValueError("; ".join(problems) + f"; {ORIGINS_FORM}")
    return " ".join(origins)


def public_url(value) -> str:
    """Empty (each request's own address), else the absolute http(s) URL of the site."""
    value = text(value).strip()
    if not value:
        return ""
    form = "accepted: an absolute http(s) URL, e.g. https://ocop.example.vn/ or " \
           "https://example.vn/ocop/ (no query or fragment), or empty"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"is not an absolute http(s) URL; {form}")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError(f"has a query or fragment; {form}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"has a user name or password; {form}")
    try:
        parts.port
    except ValueError:
        raise ValueError(f"has an invalid port; {form}") from None
    if origin_problem(f"{parts.scheme}://{parts.netloc}"):
        raise ValueError(f"has no valid host name (a non-ASCII name in its xn-- form); {form}")
    return value


# -- limits (Flask-Limiter) -----------------------------------------------------------------

def rate_limits(value) -> str:
    from limits import parse_many

    value = nonempty_text(value)
    try:
        parse_many(value)
    except ValueError:
        raise ValueError("accepted: limits separated by ';', each 'N per PERIOD', e.g. "
                         "'5 per 15 minutes; 10 per hour; 20 per day'") from None
    return value


def limits_storage(value) -> str:
    from limits.storage import SCHEMES

    value = nonempty_text(value)
    schemes = sorted(s for s in SCHEMES if not s.startswith("async+"))  # Flask-Limiter: sync
    if value.split("://", 1)[0] not in schemes or "://" not in value:
        raise ValueError("accepted: a storage URI of the limits package: "
                         + ", ".join(f"{s}://" for s in schemes)
                         + " (e.g. memory:// or redis://host:6379)")
    return value


def samesite(value):
    if value is None:
        return None
    if isinstance(value, str) and value.capitalize() in ("Lax", "Strict", "None"):
        return value.capitalize()
    raise ValueError("accepted: Lax, Strict or None")


def password_hash(value):
    value = optional_text(value)
    if value is not None and (value.count("$") < 2
                              or not value.startswith(("scrypt:", "pbkdf2:"))):
        raise ValueError("accepted: a hash made by werkzeug.security.generate_password_hash "
                         "('scrypt:…$salt$hash' or 'pbkdf2:…$salt$hash'), or unset")
    return value


VALIDATORS = {
    "DATA_DIR": nonempty_text,
    "TILE_URL": tile_url,
    "TILE_ATTRIBUTION": text,
    "EMBED_ORIGINS": embed_origins,
    "FASTPATH": boolean,
    "PUBLIC_URL": public_url,
    "TRUSTED_PROXIES": integer(0, 10),
    "SECRET_KEY": optional_text,
    "ADMIN_ACCOUNTS_FILE": text,
    "ADMIN_PASSWORD_HASH": password_hash,
    "SESSION_COOKIE_SECURE": boolean,
    "SESSION_COOKIE_SAMESITE": samesite,
    "LOGIN_LIMITS_PER_ADDRESS": rate_limits,
    "LOGIN_LIMITS_PER_ACCOUNT": rate_limits,
    "LOGIN_LIMITS_STORAGE": limits_storage,
    "UPLOAD_MAX_BYTES": integer(1),
    "UPLOAD_KEEP_HOURS": positive_number,
    "UPLOADS_MAX_TOTAL_BYTES": integer(1),
}


def _shown(value) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def problem(name: str, value, reason: str) -> str:
    return f"{ENV_PREFIX}{name} (setting {name} = {_shown(value)}): {reason}"


# Settings the app's extensions read after start-up (Flask-WTF, Flask-Compress,
# Flask-Limiter, Flask-Babel, Flask-Login): not in app.config yet, never typos of ours.
EXTENSION_PREFIXES = ("WTF_", "COMPRESS_", "RATELIMIT_", "BABEL_", "REMEMBER_COOKIE_")


def validate(config, known=(), environ=None) -> dict:
    """The checked values of every setting in VALIDATORS that `config` has; SettingsError
    listing every problem, including OCOP_* environment variables that name no setting
    (`known`: the other setting names the app reads, e.g. Flask's own)."""
    checked, problems = {}, []
    for name, check in VALIDATORS.items():
        if name not in config:
            continue
        try:
            checked[name] = check(config[name])
        except ValueError as e:
            problems.append(problem(name, config[name], str(e)))
    together = {**config, **checked}
    if not problems:
        problems += cross_checks(together)
    names = set(VALIDATORS) | set(known)
    for var in sorted(environ or ()):
        name = var[len(ENV_PREFIX):]
        if var.startswith(ENV_PREFIX) and name not in names \
                and not name.startswith(EXTENSION_PREFIXES):
            problems.append(f"{var}: no such setting; the settings are "
                            + ", ".join(sorted(VALIDATORS)))
    if problems:
        raise SettingsError("Wrong settings:\n" + "\n".join(f"- {p}" for p in problems))
    return checked


def cross_checks(config) -> list[str]:
    """Rules between settings."""
    problems = []
    if config.get("SESSION_COOKIE_SAMESITE") == "None" and \
            not config.get("SESSION_COOKIE_SECURE", True):
        problems.append(problem("SESSION_COOKIE_SAMESITE", "None",
                                "SameSite=None needs SESSION_COOKIE_SECURE true (browsers drop "
                                "the cookie otherwise); accepted with it false: Lax or Strict"))
    return problems
