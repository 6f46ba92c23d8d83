"""Every benchmark in one run: `python -m bench` (or `--only NAME ...`, `--list`).

Each benchmark runs in its own process, one after the other (they share the machine's cores, so
never two at once); its whole output goes to docs/performance.md under its command, and a
summary table is printed at the end: each benchmark, the command that reproduces it, its
verdict line (the target it names, met or not) and how long it took.  Everything talks only to
127.0.0.1; synthetic data sets are generated into temporary directories, never into data/.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "performance.md"
NATIONAL = "10323"      # Vietnam's OCOP products in 2023
STRESS = "100000"

# (name, what it measures, module and arguments)
SUITE = [
    ("page-real", "first-load weight and time of / beside plain folium, today's data",
     ["bench.page_weight", "--runs", "3"]),
    ("embed-real", "the same for /embed", ["bench.page_weight", "--runs", "3", "--page", "/embed"]),
    ("page-national", "first-load weight and time of /, national scale",
     ["bench.page_weight", "--runs", "1", "--scale", NATIONAL]),
    ("embed-national", "the same for /embed, national scale",
     ["bench.page_weight", "--runs", "1", "--scale", NATIONAL, "--page", "/embed"]),
    ("page-stress", "first-load weight and time of /, 100,000 products",
     ["bench.page_weight", "--runs", "1", "--scale", STRESS]),
    ("embed-stress", "the same for /embed, 100,000 products",
     ["bench.page_weight", "--runs", "1", "--scale", STRESS, "--page", "/embed"]),
    ("search", "time per keystroke of the search box, national scale", ["bench.search"]),
    ("serve-real", "server throughput of pages, downloads and OGC items beside nginx and "
     "pygeoapi", ["bench.serve"]),
    ("serve-national", "the same, national scale", ["bench.serve", "--scale", NATIONAL]),
    ("startup", "start-up time and peak memory at each scale", ["bench.startup"]),
    ("joins", "spatial joins: 1,000,000 points to districts, national set to communes",
     ["bench.joins"]),
    ("handbook", "the printable handbook: city and national scale", ["bench.handbook"]),
    ("soak", "10 minutes of mixed traffic with an import in the middle", ["bench.soak"]),
]
VERDICT_WORDS = ("target", "Target", "MET", "errors", "Errors")


def verdict(output: str) -> str:
    """The benchmark's last line that names its target (or its last line)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if any(w in ln for w in VERDICT_WORDS):
            return ln
    return lines[-1] if lines else "(no output)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--out", type=Path, default=OUT, help="report file (docs/performance.md)")
    args = p.parse_args(argv)
    if args.list:
        for name, what, cmd in SUITE:
            print(f"{name:15} {what}\n{'':15} python -m {shlex.join(cmd)}")
        return 0
    chosen = [s for s in SUITE if not args.only or s[0] in args.only]
    unknown = set(args.only or ()) - {s[0] for s in SUITE}
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(sorted(unknown))} (see --list)")
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = previous_sections(args.out) if args.only else {}
    failed = False
    for name, what, cmd in chosen:
        command = f"python -m {shlex.join(cmd)}"
        print(f"== {name}: {command}", flush=True)
        t0 = time.monotonic()
        load = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
        took = time.monotonic() - t0
        out = proc.stdout + (f"\n[exit {proc.returncode}]\n{proc.stderr[-2000:]}"
                             if proc.returncode else "")
        failed |= proc.returncode != 0
        print(out, flush=True)
        sections[name] = (f"## {name}: {what}\n\n    {command}\n\nRun {started}; 1-minute load "
                          f"average before: {load:.2f}; took {took:.0f} s\n\n"
                          f"```\n{out.strip()}\n```\n")
    order = [n for n, _, _ in SUITE if n in sections]
    table = ["| benchmark | command | verdict | took |", "| --- | --- | --- | ---: |"]
    table += [summary_row(n, sections[n]) for n in order]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        f"# Performance\n\nWritten by `python -m bench` (last run {started}) on a machine with "
        f"{os.cpu_count()} CPUs. Each benchmark's section in `bench/README.md` says what it "
        f"measures and how; below is its output, with the time of its run and the machine's "
        f"load before it.\n\n" + "\n".join(table) + "\n\n"
        + "\n".join(sections[n].rstrip() + "\n" for n in order), encoding="utf-8")
    print("\n".join(table))
    print(f"\nReport: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 1 if failed else 0


def previous_sections(path: Path) -> dict[str, str]:
    """The sections of an earlier report, by benchmark name (kept when --only runs some)."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"(?m)^(?=## [\w-]+: )", text)
    return {m.group(1): part for part in parts if (m := re.match(r"## ([\w-]+): ", part))}


def summary_row(name: str, section: str) -> str:
    command = re.search(r"(?m)^    (python -m .+)$", section)
    took = re.search(r"took (\d+) s", section)
    body = re.search(r"```\n(.*?)\n```", section, re.S)
    out = body.group(1) if body else ""
    line = f"FAILED ({m.group(1)})" if (m := re.search(r"\[(exit \d+)\]", out)) else verdict(out)
    return (f"| {name} | `{command.group(1) if command else '?'}` | {line.replace('|', '/')} | "
            f"{took.group(1) if took else '?'} s |")


if __name__ == "__main__":
    sys.exit(main())
