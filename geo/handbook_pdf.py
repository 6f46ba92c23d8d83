"""The handbook's PDF, laid out in parts and joined.

WeasyPrint keeps a whole document laid out in memory, and `target-counter` page numbers and
`counter(pages)` make it lay pages out again: a 10,000-product handbook (about 1,700 pages)
did not finish in 15 minutes and 8.6 GB.  So the handbook is laid out in parts, each a
WeasyPrint document of its own written to a PDF of its own (geo/handbook_render.py; memory is
freed part by part, and parts can be laid out in parallel processes), then joined
(geo/handbook_join.py):

1. the cover, the district parts (a few hundred cards each, whole districts) and the
   sources, and the contents with placeholder page numbers (to count its pages);
2. the page numbers of every anchor follow from the parts' page counts; the indexes are
   laid out with their numbers written in (`data-page`, no target-counter), then the
   contents (again, in the rare case where its page count changed);
3. the footers ("page / pages") are a document of blank pages with only the footer, laid
   out once the total is known and overlaid on the joined pages;
4. the internal links (contents and indexes) are added back as PDF link annotations to
   named destinations, with the outline (bookmarks from the headings) of the whole book.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .handbook_content import Handbook, Section
from .handbook_join import join_parts
from .handbook_render import footer_html, pdf_css_url, render_part

CHUNK_CARDS = 400           # cards per district part (whole districts; one district may exceed)
PARALLEL_MIN_CARDS = 1000   # below this, parts are laid out in this process (jobs=None)
PLACEHOLDER_PAGE = 8888     # page numbers of the first, counting layout of the contents
BALANCED_INDEX_MAX = 600    # larger indexes fill their columns in order (see Part.balanced)


@dataclass
class Part:
    """A piece of the handbook laid out as a document of its own; `kind` is one of cover,
    contents, districts (with its `sections`), index-category, index-name, sources.
    `balanced`: the index's two columns are balanced on every page, as in a browser; a long
    index fills them in order instead (WeasyPrint's balancing of every page doubles the
    layout time of a 10,000-entry index)."""
    kind: str
    sections: list[Section] = field(default_factory=list)
    balanced: bool = True


def pdf_parts(book: Handbook, max_cards: int = CHUNK_CARDS) -> list[Part]:
    """The handbook's parts in print order: consecutive districts are grouped up to
    `max_cards` cards (a district is never split)."""
    parts = [Part("cover")] + ([Part("contents")] if book.count else [])
    group: list[Section] = []
    cards = 0
    for s in book.sections:
        n = sum(len(g.cards) for g in s.groups)
        if group and cards + n > max_cards:
            parts.append(Part("districts", group))
            group, cards = [], 0
        group.append(s)
        cards += n
    if group:
        parts.append(Part("districts", group))
    if book.count:
        balanced = book.count <= BALANCED_INDEX_MAX
        parts += [Part("index-category", balanced=balanced),
                  Part("index-name", balanced=balanced)]
    parts.append(Part("sources"))
    return parts


class PageNumbers(dict):
    """anchor -> page number, for the template's `data-page`; a missing anchor gives
    `default` (the placeholder of the counting layout, or "")."""

    def __init__(self, numbers=(), default=""):
        super().__init__(numbers)
        self.default = default

    def __missing__(self, key):
        return self.default


class _InProcess:
    """The executor interface, running each job at once in this process."""

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as e:       # re-raised by .result(), as in a pool
            future.set_exception(e)
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def _executor(jobs: int):
    if jobs <= 1:
        return _InProcess()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may be a threaded web server
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def _starts(results: list) -> list:
    """First page number (from 1) of each part, as far as the parts before it are laid out."""
    starts, page = [], 1
    for r in results:
        starts.append(page)
        if r is None or page is None:
            page = None
        else:
            page += r["pages"]
    return starts


def _numbers(results: list) -> PageNumbers:
    """anchor -> page number (from 1), over the parts laid out so far."""
    out = PageNumbers()
    for r, start in zip(results, _starts(results)):
        if r is not None and start is not None:
            for name, (i, _x, _y) in r["anchors"].items():
                out.setdefault(name, start + i)
    return out


def write_pdf(book: Handbook, render_html, static_dir: str | Path,
              static_url_path: str = "/static", target=None, *, jobs: int | None = 1,
              max_cards: int = CHUNK_CARDS, css_url: str | None = None) -> bytes | None:
    """The handbook as a PDF: bytes, or written to `target` (a path or a binary file).

    `render_html(part, numbers)` gives the HTML of a `Part` (the template), with `numbers`
    (`PageNumbers`, anchor -> page) printed after the contents' and indexes' entries.
    `jobs`: parts laid out in that many worker processes (1: in this process; None: the
    CPUs, up to 4, when the handbook has PARALLEL_MIN_CARDS cards or more)."""
    import os
    import tempfile

    if jobs is None:
        jobs = min(os.cpu_count() or 1, 4) if book.count >= PARALLEL_MIN_CARDS else 1
    parts = pdf_parts(book, max_cards)
    kinds = [p.kind for p in parts]
    results: list = [None] * len(parts)
    static_dir = str(static_dir)
    with tempfile.TemporaryDirectory(prefix="ocop-handbook-") as tmp:
        paths = [os.path.join(tmp, f"part-{i}.pdf") for i in range(len(parts))]
        footer = os.path.join(tmp, "footer.pdf")
        pool = _executor(jobs)
        try:
            def submit(i, numbers, write=True):
                return pool.submit(render_part, render_html(parts[i], numbers), static_dir,
                                   static_url_path, paths[i] if write else None)

            # 1. everything that needs no page number; the contents, to count its pages
            pending = {}
            for i, kind in enumerate(kinds):
                if kind == "contents":
                    pending[i] = submit(i, PageNumbers(default=PLACEHOLDER_PAGE), write=False)
                elif not kind.startswith("index-"):
                    pending[i] = submit(i, PageNumbers())
            for i, future in pending.items():
                results[i] = future.result()
            # 2. the indexes with the cards' pages, then the contents with every part's
            index = [i for i, k in enumerate(kinds) if k.startswith("index-")]
            contents = kinds.index("contents") if "contents" in kinds else None
            for _attempt in range(5):
                numbers = _numbers(results)
                pending = {i: submit(i, numbers) for i in index}
                for i, future in pending.items():
                    results[i] = future.result()
                if contents is None:
                    break
                final = submit(contents, _numbers(results)).result()
                stable = final["pages"] == results[contents]["pages"]
                results[contents] = final
                if stable:
                    break
            else:
                raise RuntimeError("the handbook's contents did not settle on a page count")
            # 3. the footers
            total = sum(r["pages"] for r in results)
            css = css_url or pdf_css_url(static_url_path)
            counted = pool.submit(render_part, footer_html(css, total, results[0]["pages"]),
                                  static_dir, static_url_path, footer).result()
            if counted["pages"] != total:
                raise RuntimeError(f"footer pages {counted['pages']} != {total}")
        finally:
            # the workers' memory is given back before joining
            pool.shutdown(wait=True, cancel_futures=True)
        # 4. one PDF
        return join_parts(paths, results, footer, target)
