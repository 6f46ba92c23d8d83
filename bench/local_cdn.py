"""Local copies of the CDN files a plain folium page loads, so the benchmark never leaves 127.0.0.1.

A plain folium page pulls Leaflet, jQuery, Bootstrap, Font Awesome and awesome-markers from
public CDNs.  To weigh that page fairly we serve the browser the very same files, taken from the
packages those CDNs publish: npm tarballs fetched once with `npm pack` (the ordinary npm client)
into bench/.cache/, and folium's own CSS from the installed folium package (or, when its wheel
leaves that file out, from folium's source distribution fetched with pip).  A URL we cannot map to
a local file is reported as missing and answered 404, so the plain page is, if anything, weighed
a little light: the comparison never flatters our page.
"""
from __future__ import annotations

import json
import mimetypes
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CACHE = Path(__file__).resolve().parent / ".cache"

# Types the platform's mimetypes table may not know; a font needs a font type to be used.
EXTRA_TYPES = {".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf",
               ".eot": "application/vnd.ms-fontobject", ".svg": "image/svg+xml"}

# cdnjs' Leaflet.awesome-markers 2.0.2 is published on npm only under this name, with the
# files in js/ and css/ instead of dist/ (the `leaflet.awesome-markers` package has no 2.0.2).
AWESOME_MARKERS = "drmonty-leaflet-awesome-markers@2.0.2"


def content_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return EXTRA_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def tarball_name(spec: str) -> str:
    """The file `npm pack name@version` writes: scope's @ dropped, / turned into -."""
    name, version = spec.rsplit("@", 1)
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def _awesome_markers_path(path: str) -> str:
    """cdnjs keeps every file at the top; the npm package splits them into js/ and css/."""
    if path.endswith(".js"):
        return f"js/{path}"
    return f"css/{path}"  # the stylesheet, and images/ which it references relatively


def _last_line(text: str) -> str:
    """A failed client's last line of stderr usually says why."""
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no message"


def _light_minify(css: bytes) -> bytes:
    """jsDelivr minifies `.min.css` on the fly from folium's `.css`; collapsing whitespace
    comes close enough for a gzipped size."""
    text = re.sub(r"\s+", " ", css.decode("utf-8"))
    return re.sub(r"\s*([{};])\s*", r"\1", text).strip().encode("utf-8")


@dataclass
class LocalCDN:
    """Answers CDN URLs from local package files; `fetch=False` never calls npm or pip."""

    cache: Path = CACHE
    fetch: bool = True
    problems: dict[str, str] = field(default_factory=dict)  # package -> why it is unavailable
    _tars: dict[str, tarfile.TarFile | None] = field(default_factory=dict)

    # -- URL -> (package, path) -------------------------------------------------------------

    def lookup(self, url: str) -> tuple[bytes, str] | None:
        """The body and content type for a CDN URL, or None when no local copy exists."""
        parts = urlsplit(url)
        where = f"{parts.hostname}{parts.path}"
        for pattern, resolve in self._rules():
            m = re.fullmatch(pattern, where)
            if m:
                body = resolve(m)
                return None if body is None else (body, content_type(parts.path))
        return None

    def _rules(self):
        return (
            (r"cdn\.jsdelivr\.net/npm/(?P<pkg>(?:@[^/]+/)?[^/@]+)@(?P<ver>[^/]+)/(?P<path>.+)",
             lambda m: self.npm_file(f"{m['pkg']}@{m['ver']}", m["path"])),
            (r"code\.jquery\.com/jquery-(?P<ver>[\d.]+)(?P<min>\.min)?\.js",
             lambda m: self.npm_file(f"jquery@{m['ver']}", f"dist/jquery{m['min'] or ''}.js")),
            (r"cdnjs\.cloudflare\.com/ajax/libs/Leaflet\.awesome-markers/2\.0\.2/(?P<path>.+)",
             lambda m: self.npm_file(AWESOME_MARKERS, _awesome_markers_path(m["path"]))),
            (r"cdn\.jsdelivr\.net/gh/python-visualization/folium/folium/templates/(?P<name>.+)",
             lambda m: self.folium_template(m["name"])),
            # netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css came from a
            # Bootstrap 3.0.0 pre-release; no npm package carries it, so it stays missing.
        )

    # -- npm tarballs -----------------------------------------------------------------------

    def npm_file(self, spec: str, path: str) -> bytes | None:
        tar = self._npm_tar(spec)
        if tar is None:
            return None
        try:
            member = tar.extractfile(f"package/{path}")
        except KeyError:
            return None
        return member.read() if member else None

    def _npm_tar(self, spec: str) -> tarfile.TarFile | None:
        if spec not in self._tars:
            path = self.cache / "npm" / tarball_name(spec)
            if not path.exists() and self.fetch:
                self._npm_pack(spec, path.parent)
            self._tars[spec] = tarfile.open(path) if path.exists() else None
            if self._tars[spec] is None:
                self.problems.setdefault(spec, "not in the cache")
        return self._tars[spec]

    def _npm_pack(self, spec: str, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        try:
            out = subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", str(dest)],
                                 capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.problems[spec] = f"npm pack failed ({e.__class__.__name__})"
            return
        if out.returncode != 0:
            self.problems[spec] = f"npm pack failed: {_last_line(out.stderr)}"
            return
        # npm names the file itself; make sure it is where tarball_name() looks.
        written = json.loads(out.stdout)[0]["filename"]
        if written != tarball_name(spec):
            (dest / written).rename(dest / tarball_name(spec))

    # -- folium's own templates -------------------------------------------------------------

    def folium_template(self, name: str) -> bytes | None:
        """From the installed folium, else its sdist; `x.min.css` falls back to `x.css`."""
        names = [name]
        if name.endswith(".min.css"):
            names.append(name[: -len(".min.css")] + ".css")
        for candidate in names:
            body = self._installed_template(candidate) or self._sdist_template(candidate)
            if body is not None:
                return body if candidate == name else _light_minify(body)
        return None

    @staticmethod
    def _installed_template(name: str) -> bytes | None:
        import folium

        path = Path(folium.__file__).parent / "templates" / name
        return path.read_bytes() if path.is_file() else None

    def _sdist_template(self, name: str) -> bytes | None:
        tar = self._folium_sdist()
        if tar is None:
            return None
        prefix = tar.getnames()[0].split("/")[0]
        try:
            member = tar.extractfile(f"{prefix}/folium/templates/{name}")
        except KeyError:
            return None
        return member.read() if member else None

    def _folium_sdist(self) -> tarfile.TarFile | None:
        import folium

        key = f"folium=={folium.__version__} (sdist)"
        if key not in self._tars:
            dest = self.cache / "pypi"
            path = dest / f"folium-{folium.__version__}.tar.gz"
            if not path.exists() and self.fetch:
                self._pip_download(f"folium=={folium.__version__}", dest, key)
            self._tars[key] = tarfile.open(path) if path.exists() else None
            if self._tars[key] is None:
                self.problems.setdefault(key, "not in the cache")
        return self._tars[key]

    def _pip_download(self, requirement: str, dest: Path, key: str) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
               "-d", str(dest), requirement]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.problems[key] = f"pip download failed ({e.__class__.__name__})"
            return
        if out.returncode != 0:
            self.problems[key] = f"pip download failed: {_last_line(out.stderr)}"

    def close(self) -> None:
        for tar in self._tars.values():
            if tar is not None:
                tar.close()
