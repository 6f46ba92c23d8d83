"""Named /admin accounts: a JSON file, passwords hashed, sessions revocable.

The file (`ADMIN_ACCOUNTS_FILE`, default `<data dir>/.history/users.json`) holds

    {"users": {"lan": {"password_hash": "scrypt:…", "session_key": "…", "changed": "…"}},
     "fallback_session_key": "…"}

and is written like geo/store.py writes data: a temporary file in the same folder (mode
0600), flushed and fsync'ed, swapped in with os.replace, the folder fsync'ed; one writer at a
time (an flock on `<file>.lock`).

A session names its account *and* the account's current `session_key` (a random token).
Logging out, changing the password or removing the account draws a new key, so every
session cookie issued before (including one copied from a browser) stops working: the
Flask-Login user loader (web/admin.py) accepts a session only while its key is current.

`ADMIN_PASSWORD_HASH` (the single password of earlier versions) still works as the account
"admin" while the file has no account of that name; its session key is the file's
`fallback_session_key` with the hash mixed in, so changing the setting ends its sessions too.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from geo.store import HISTORY

FALLBACK = "admin"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MIN_PASSWORD = 10
# A hash to check against when the account does not exist, so a wrong name costs as much
# time as a wrong password (no telling which names exist by timing).
_DUMMY_HASH = generate_password_hash(secrets.token_hex(8))


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class Account:
    name: str
    password_hash: str
    session_key: str

    def check(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


def accounts_path(config) -> Path:
    configured = config.get("ADMIN_ACCOUNTS_FILE")
    return Path(configured) if configured else Path(config["DATA_DIR"]) / HISTORY / "users.json"


def normalise(name: str) -> str:
    return (name or "").strip().lower()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Accounts:
    def __init__(self, path: str | Path, fallback_hash: str | None = None):
        self.path = Path(path)
        self.fallback_hash = fallback_hash or None

    @classmethod
    def for_config(cls, config) -> "Accounts":
        return cls(accounts_path(config), config.get("ADMIN_PASSWORD_HASH"))

    # -- reading ----------------------------------------------------------------------------

    def _read(self) -> dict:
        try:
            d = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"users": {}}
        except (OSError, ValueError) as e:
            raise AccountError(f"cannot read the accounts file {self.path}: {e}") from e
        d.setdefault("users", {})
        return d

    def names(self) -> list[str]:
        return sorted(self._read()["users"])

    def info(self) -> dict[str, dict]:
        return {n: {"changed": u.get("changed", "")}
                for n, u in sorted(self._read()["users"].items())}

    def any(self) -> bool:
        """Whether anyone can log in at all (an account in the file or the fallback)."""
        try:
            return bool(self.fallback_hash or self._read()["users"])
        except AccountError:
            return bool(self.fallback_hash)

    def get(self, name: str) -> Account | None:
        name = normalise(name)
        d = self._read()
        u = d["users"].get(name)
        if u:
            return Account(name, u["password_hash"], u["session_key"])
        if name == FALLBACK and self.fallback_hash:
            key = d.get("fallback_session_key") or self._init_fallback_key()
            mixed = hashlib.sha256(f"{key}:{self.fallback_hash}".encode()).hexdigest()
            return Account(FALLBACK, self.fallback_hash, mixed)
        return None

    def authenticate(self, name: str, password: str) -> Account | None:
        acct = self.get(name)
        if acct is None:
            check_password_hash(_DUMMY_HASH, password or "")
            return None
        return acct if acct.check(password or "") else None

    # -- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                d = self._read()
                yield d
                self._write(d)
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _write(self, d: dict) -> None:
        data = (json.dumps(d, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()
        tmp = self.path.parent / f".{self.path.name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _init_fallback_key(self) -> str:
        with self._locked() as d:
            d.setdefault("fallback_session_key", secrets.token_urlsafe(24))
            return d["fallback_session_key"]

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password or "") < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")

    def add(self, name: str, password: str) -> None:
        name = normalise(name)
        if not NAME.match(name):
            raise AccountError("a name is 1 to 40 of a-z, 0-9, '.', '_', '-', starting with "
                               "a letter or digit")
        self._check_password(password)
        with self._locked() as d:
            if name in d["users"]:
                raise AccountError(f"there is already an account {name!r}")
            d["users"][name] = {"password_hash": generate_password_hash(password),
                                "session_key": secrets.token_urlsafe(24), "changed": _now()}

    def set_password(self, name: str, password: str) -> None:
        """A new password; every session of the account ends."""
        name = normalise(name)
        self._check_password(password)
        with self._locked() as d:
            if name not in d["users"]:
                raise AccountError(f"no account {name!r}")
            d["users"][name].update(password_hash=generate_password_hash(password),
                                    session_key=secrets.token_urlsafe(24), changed=_now())

    def remove(self, name: str) -> None:
        name = normalise(name)
        with self._locked() as d:
            if name not in d["users"]:
                raise AccountError(f"no account {name!r}")
            del d["users"][name]

    def end_sessions(self, name: str) -> None:
        """Draw a new session key: every cookie issued for the account stops working."""
        name = normalise(name)
        with self._locked() as d:
            if name in d["users"]:
                d["users"][name]["session_key"] = secrets.token_urlsafe(24)
            elif name == FALLBACK:
                d["fallback_session_key"] = secrets.token_urlsafe(24)
