"""The audit log: who did what, when and from where, one JSON object a line.

`<data dir>/.history/audit.jsonl` gets a line for every login (success and failure), logout,
password change, web check and apply of an import, and the command line's imports,
rollbacks and account changes:

    {"time": "2026-12-02T18:40:00Z", "user": "lan", "action": "apply", "ok": true,
     "address": "203.0.113.7", "detail": {"file": "ocop.xlsx", "version": "…"}}

`time` is UTC (ISO 8601), `address` the request's remote address (`command line` for the
CLI).  Lines are appended with O_APPEND under an flock and fsync'ed; a torn last line is
skipped when reading.  /admin shows the latest (`latest`).
"""
from __future__ import annotations

import fcntl
import getpass
import json
import os
import time
from pathlib import Path

from geo.store import HISTORY

FILE = "audit.jsonl"
CLI_ADDRESS = "command line"


def audit_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / HISTORY / FILE


def record(data_dir: str | Path, action: str, *, user: str | None, address: str | None,
           ok: bool = True, **detail) -> dict:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "user": user,
             "action": action, "ok": ok, "address": address,
             "detail": {k: v for k, v in detail.items() if v is not None}}
    path = audit_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # A line torn by a crash would glue onto this one: start on a new line.
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def record_cli(data_dir: str | Path, action: str, ok: bool = True, **detail) -> dict:
    """A command-line action, by the operating-system user who ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return record(data_dir, action, user=user, address=CLI_ADDRESS, ok=ok, **detail)


def latest(data_dir: str | Path, n: int = 50, tail_bytes: int = 256 * 1024) -> list[dict]:
    """The last `n` entries, newest first (reads at most the file's last `tail_bytes`)."""
    path = audit_path(data_dir)
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - tail_bytes))
            data = fh.read()
    except FileNotFoundError:
        return []
    lines = data.splitlines()
    if size > tail_bytes:
        lines = lines[1:]                 # the first may be cut
    out = []
    for raw in reversed(lines):
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
        if len(out) >= n:
            break
    return out
