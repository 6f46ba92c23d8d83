"""The OCOP handbook: a printable, bilingual catalogue built from the map's own data.

This module only gathers the handbook's API (web/handbook.py, bench/handbook.py and the tests
import it from here); each concern lives in a module of its own, so that one can change the
PDF machinery without reading the content, or the content without the PDF:

- geo/handbook_content.py: what the handbook says (cards, districts by 2025 commune,
  totals, indexes, sources), pure data, no rendering;
- geo/handbook_qr.py: the cards' QR codes (segno), as PNG data: URIs;
- geo/handbook_maps.py: the districts' static maps (matplotlib SVG, no tiles);
- geo/handbook_render.py: one piece laid out by WeasyPrint, fetching nothing;
- geo/handbook_pdf.py: the PDF laid out in parts, page numbers between them;
- geo/handbook_join.py: the parts joined with pikepdf (footers, links, outline).

The Vietnamese sort order (`vi_key`, `vi_sorted`) lives with the other text rules in
geo/text.py.
"""
from __future__ import annotations

from .handbook_content import Handbook, build_handbook, permalink
from .handbook_pdf import CHUNK_CARDS, PARALLEL_MIN_CARDS, PageNumbers, Part, write_pdf
from .handbook_qr import qr_image
from .handbook_render import PDF_BASE, offline_fetcher, pdf_css_url
from .text import vi_key, vi_sorted

# What the app, the benchmark and the tests use; the rest is imported from its own module.
__all__ = [
    "CHUNK_CARDS", "Handbook", "PARALLEL_MIN_CARDS", "PDF_BASE", "PageNumbers", "Part",
    "build_handbook", "offline_fetcher", "pdf_css_url", "permalink", "qr_image", "vi_key",
    "vi_sorted", "write_pdf",
]
