"""One piece of the handbook laid out by WeasyPrint and written to a PDF, fetching nothing.

Rendering is confined to data: URIs and the app's own static files (`offline_fetcher`), so a
handbook never touches the network or the rest of the file system, whatever the data holds.
`render_part` is a plain function of strings so that worker processes can run it
(geo/handbook_pdf.py); it reports what joining the pieces needs (geo/handbook_join.py).
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

# The base URL the PDF's HTML is rendered against: only the app's static files live under it.
PDF_BASE = "https://handbook.invalid/"


def offline_fetcher(static_dir: str | Path, static_url_path: str = "/static"):
    """A WeasyPrint URL fetcher that serves data: URIs and the app's own static files (as
    `PDF_BASE` + static_url_path + "/…") and refuses everything else, so rendering never
    touches the network or the rest of the file system.  `.refused` lists what was refused."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = Path(static_dir).resolve()
    prefix = PDF_BASE.rstrip("/") + "/" + static_url_path.strip("/") + "/"

    class OfflineFetcher(URLFetcher):
        refused: list[str] = []

        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith(prefix):
                rel = url[len(prefix):].split("?", 1)[0].split("#", 1)[0]
                path = (root / rel).resolve()
                if path.is_relative_to(root) and path.is_file():
                    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
            self.refused.append(url)
            raise ValueError(f"the handbook fetches nothing outside the app: {url[:80]}")

    fetcher = OfflineFetcher(allowed_protocols=("data", "https"))
    fetcher.refused = []
    return fetcher


def pdf_css_url(static_url_path: str = "/static") -> str:
    """The stylesheet's URL in the PDF's HTML (served by `offline_fetcher`)."""
    return PDF_BASE.rstrip("/") + "/" + static_url_path.strip("/") + "/handbook.css"


def render_part(html: str, static_dir: str, static_url_path: str, out: str | None) -> dict:
    """Lay out one part's HTML with WeasyPrint and write it to the PDF `out` (None: only
    count).  Internal links are taken out of the part (their targets are mostly in other
    parts) and returned, with what joining needs: page count, page heights (CSS px), anchors
    {name: (page, x, y)}, internal links [(page, anchor, (x1, y1, x2, y2))] and bookmarks
    [(page, level, label, x, y, state)], pages counted from 0 within the part.  A plain
    function of strings, so that a worker process can run it."""
    from weasyprint import HTML

    doc = HTML(string=html, base_url=PDF_BASE, media_type="print",
               url_fetcher=offline_fetcher(static_dir, static_url_path)).render()
    anchors: dict[str, tuple] = {}
    links, marks, heights = [], [], []
    for i, page in enumerate(doc.pages):
        heights.append(page.height)
        for name, (x, y, *_rest) in page.anchors.items():
            anchors.setdefault(name, (i, x, y))
        links += [(i, target, tuple(rect)) for kind, target, rect, _box in page.links
                  if kind == "internal"]
        page.links = [link for link in page.links if link[0] != "internal"]
        marks += [(i, level, label, x, y, state)
                  for level, label, (x, y), state in page.bookmarks]
    if out is not None:
        doc.write_pdf(out)
    return {"pages": len(doc.pages), "heights": heights, "anchors": anchors,
            "links": links, "bookmarks": marks}


def footer_html(css_url: str, total: int, cover_pages: int) -> str:
    """A document of `total` blank pages with only the footer "n / total" (none on the
    cover's pages): laid out once the total is known, and overlaid on the joined parts."""
    pages = ['<div class="fp fp-cover"></div>'] * cover_pages \
        + ['<div class="fp"></div>'] * (total - cover_pages)
    return ('<!doctype html><html><head><meta charset="utf-8">'
            f'<link rel="stylesheet" href="{css_url}"><style>'
            '@page { @top-left { content: none; } '
            f'@bottom-center {{ content: counter(page) " / {total}"; }} }}'
            '.fp-cover { page: cover; } .fp + .fp { break-before: page; }'
            '</style></head><body>' + "".join(pages) + '</body></html>')
