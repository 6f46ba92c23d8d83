"""Safe writes of the data files: atomic replacement, kept versions, rollback, one writer.

* A data file is replaced atomically: the new bytes go to a temporary file in the same
  folder, are flushed and fsync'ed, then `os.replace` swaps it in and the folder is fsync'ed.
  A reader (or a crash) sees the old file or the new one, never a mix.
* Every version the data has been in is kept under `<data dir>/.history/`: the files' bytes
  by their SHA-256 (`objects/`, so an unchanged file is stored once) and one line per version
  in `log.jsonl` (version, time, action, note and the hash of each data file).
* `rollback(version)` makes the data files what they were in that version (itself recorded as
  a new version).  When it has to replace more than one file it first writes its plan to
  `.history/pending.json`; a rollback interrupted half way is finished by the next store
  operation (`recover`), so the set of files is never left mixed for long.
* One writer at a time: every change holds an exclusive `fcntl.flock` on `.history/lock`; a
  second import waits for the first (or fails after `timeout` seconds).

The version name is geo.load.data_version: the hash the app shows and keys its caches on.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .load import FILES, data_version

HISTORY = ".history"


class StoreError(RuntimeError):
    pass


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` by `data` so that it is always either the old or the new bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Version:
    version: str
    time: str
    action: str
    note: str
    files: dict[str, str | None]   # relative path -> sha256 of its bytes (None: missing)


class Store:
    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        self.history = self.data_dir / HISTORY
        self.objects = self.history / "objects"
        self.log = self.history / "log.jsonl"
        self.pending = self.history / "pending.json"

    # -- locking ------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, timeout: float = 60.0):
        """Exclusive lock for one writer (processes and threads alike)."""
        self.history.mkdir(parents=True, exist_ok=True)
        fh = open(self.history / "lock", "a+b")
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreError("another import is running; try again later") \
                            from None
                    time.sleep(0.05)
            self._recover()
            yield self
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    # -- reading --------------------------------------------------------------------------

    def current_files(self) -> dict[str, bytes | None]:
        out = {}
        for rel in FILES.values():
            p = self.data_dir / rel
            out[rel] = p.read_bytes() if p.is_file() else None
        return out

    def versions(self) -> list[Version]:
        """Every recorded version, oldest first (a torn last line is skipped)."""
        if not self.log.is_file():
            return []
        out = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            try:
                d = json.loads(line)
                out.append(Version(d["version"], d["time"], d["action"], d.get("note", ""),
                                   d["files"]))
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def current_version(self) -> str:
        return data_version(self.data_dir)

    # -- writing (call inside `with store.lock():`) ---------------------------------------

    def _put_object(self, data: bytes) -> str:
        sha = _sha(data)
        p = self.objects / sha
        if not p.is_file() or _sha(p.read_bytes()) != sha:
            atomic_write(p, data)
        return sha

    def _append_log(self, action: str, note: str) -> Version:
        files = {rel: (self._put_object(b) if b is not None else None)
                 for rel, b in self.current_files().items()}
        v = Version(self.current_version(), time.strftime("%Y-%m-%dT%H:%M:%S%z"), action,
                    note, files)
        line = json.dumps(v.__dict__, ensure_ascii=False) + "\n"
        self.history.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as fh:
            # A line torn by a crash would glue onto the next one: start on a new line.
            if fh.tell() and not self._ends_with_newline():
                fh.write(b"\n")
            fh.write(line.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        return v

    def _ends_with_newline(self) -> bool:
        with open(self.log, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def ensure_recorded(self, action: str = "recorded", note: str = "") -> None:
        """Make sure the current state of the files is a listed version."""
        known = self.versions()
        if not known or known[-1].version != self.current_version():
            self._append_log(action if known else "initial", note)

    def commit(self, changes: dict[str, bytes], note: str = "", action: str = "import") -> str:
        """Write new bytes for some data files (relative paths); return the new version.

        The version before is recorded first, so it can always be rolled back to.
        """
        unknown = set(changes) - set(FILES.values())
        if unknown:
            raise StoreError(f"not a data file: {', '.join(sorted(unknown))}")
        self.ensure_recorded()
        self._replace_all(changes)
        return self._append_log(action, note).version

    def _replace_all(self, changes: dict[str, bytes]) -> None:
        current = self.current_files()
        todo = {rel: b for rel, b in changes.items() if current.get(rel) != b}
        if len(todo) > 1:
            plan = {rel: self._put_object(b) for rel, b in todo.items()}
            atomic_write(self.pending, json.dumps(plan).encode())
        for rel, b in todo.items():
            atomic_write(self.data_dir / rel, b)
        if self.pending.exists():
            self.pending.unlink()
            _fsync_dir(self.history)

    def rollback(self, version: str, note: str = "") -> str:
        matches = [v for v in self.versions() if v.version.startswith(version)]
        if not version or not matches:
            raise StoreError(f"no version {version!r}; see `flask --app app ocop history`")
        target = matches[-1]
        if len({v.version for v in matches}) > 1:
            raise StoreError(f"{version!r} names more than one version; give more characters")
        changes = {}
        for rel, sha in target.files.items():
            if sha is None:
                continue
            p = self.objects / sha
            data = p.read_bytes() if p.is_file() else None
            if data is None or _sha(data) != sha:
                raise StoreError(f"the saved copy of {rel} for version {target.version} is "
                                 "missing or damaged")
            changes[rel] = data
        self.ensure_recorded()
        self._replace_all(changes)
        return self._append_log("rollback", note or f"back to {target.version}").version

    def _recover(self) -> None:
        """Finish an interrupted multi-file replacement; remove stale temporary files."""
        if self.pending.is_file():
            try:
                plan = json.loads(self.pending.read_text(encoding="utf-8"))
                changes = {rel: (self.objects / sha).read_bytes() for rel, sha in plan.items()}
            except (OSError, ValueError):
                changes = {}   # the plan itself was torn: nothing was replaced yet
            for rel, b in changes.items():
                if _sha(b) == plan[rel]:
                    atomic_write(self.data_dir / rel, b)
            self.pending.unlink()
        for d in ({self.data_dir / Path(rel).parent for rel in FILES.values()}
                  | {self.objects, self.pending.parent}):
            if d.is_dir():
                for tmp in d.glob(".*.tmp"):
                    with contextlib.suppress(OSError):
                        tmp.unlink()
