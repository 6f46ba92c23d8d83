"""Joining the handbook's parts into one PDF with pikepdf.

Each part is a PDF of its own (geo/handbook_pdf.py); the reader must get one book: the
footers overlaid, every anchor a named destination, the internal links of the contents and
indexes pointing across parts, and a single outline.
"""
from __future__ import annotations

import io
import warnings

_PX_TO_PT = 0.75            # 72 PDF points per inch / 96 CSS pixels per inch


def join_parts(paths: list[str], results: list[dict], footer: str, target=None):
    """Join the parts' PDFs in order with pikepdf: overlay the footers, add the named
    destinations of every anchor, the internal links to them and the outline; the document
    information and language are the first part's.  Returns the bytes when `target` is
    None."""
    import pikepdf
    from pikepdf import Array, Dictionary, Name, OutlineItem, String

    out = pikepdf.Pdf.new()
    sources = [pikepdf.Pdf.open(p) for p in paths]
    feet = pikepdf.Pdf.open(footer)
    try:
        with warnings.catch_warnings():
            # "named destinations are not copied": they are made below, for the whole book
            warnings.simplefilter("ignore", pikepdf.PageCopyWarning)
            for src in sources:
                out.pages.extend(src.pages)
        pages = list(out.pages)
        for page, foot in zip(pages, feet.pages):
            page.add_overlay(foot)
        first = sources[0]
        for key, value in first.docinfo.items():
            out.docinfo[key] = String(str(value))
        if Name.Lang in first.Root:
            out.Root.Lang = String(str(first.Root.Lang))

        # global page index (from 0) and height of each part's pages
        offsets, heights = [], []
        for r in results:
            offsets.append(len(heights))
            heights += r["heights"]

        def point(g, x, y):
            return x * _PX_TO_PT, (heights[g] - y) * _PX_TO_PT

        dests = pikepdf.NameTree.new(out)
        known = set()
        for r, off in zip(results, offsets):
            for name, (i, x, y) in r["anchors"].items():
                if name not in known:
                    known.add(name)
                    px, py = point(off + i, x, y)
                    dests[name] = Array([pages[off + i].obj, Name.XYZ, px, py, 0])
        out.Root.Names = Dictionary(Dests=dests.obj)

        for r, off in zip(results, offsets):
            for i, name, (x1, y1, x2, y2) in r["links"]:
                if name not in known:
                    continue
                g = off + i
                (ax, ay), (bx, by) = point(g, x1, y1), point(g, x2, y2)
                annot = out.make_indirect(Dictionary(
                    Type=Name.Annot, Subtype=Name.Link, Rect=Array([ax, ay, bx, by]),
                    BS=Dictionary(W=0), Dest=String(name)))
                page = pages[g].obj
                if Name.Annots not in page:
                    page.Annots = Array()
                page.Annots.append(annot)

        with out.open_outline() as outline:
            stack = [(0, outline.root)]
            for r, off in zip(results, offsets):
                for i, level, label, x, y, state in r["bookmarks"]:
                    while stack[-1][0] >= level:
                        stack.pop()
                    px, py = point(off + i, x, y)
                    item = OutlineItem(label, off + i, "XYZ", left=px, top=py)
                    item.is_closed = state == "closed"
                    stack[-1][1].append(item)
                    stack.append((level, item.children))

        buf = io.BytesIO() if target is None else None
        out.save(buf if buf is not None else target, min_version=first.pdf_version,
                 object_stream_mode=pikepdf.ObjectStreamMode.generate)
        return buf.getvalue() if buf is not None else None
    finally:
        for src in sources:
            src.close()
        feet.close()
        out.close()
