"""Smoke tests of the benchmark modules: they run and report consistent counts (no timings)."""
import re

import pytest

from bench import joins, startup


def test_joins_runs_on_a_thousand_points(capsys):
    code = joins.main(["--points", "1000", "--sample", "200", "--national", "300",
                       "--repeat", "1", "--no-address"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("Reproduce: python -m bench.joins --points 1000 ")
    assert "1,000 points in, 1,000 rows out, 1,000 with a district: 1,000 ok" in out
    assert "consistent: yes" in out
    assert re.search(r"commune join: 300 points, every one given a commune: yes", out)
    assert "PROBLEM" not in out


def test_startup_scales_are_parsed():
    assert startup.parse_scales("data,national,stress") == [
        ("data", None), ("national", 10_323), ("stress", 100_000)]
    assert startup.parse_scales("5000") == [("5,000 synthetic", 5000)]
    with pytest.raises(Exception):
        startup.parse_scales("everything")
