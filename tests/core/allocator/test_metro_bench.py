"""The metro benchmark runs end to end on a tiny day (so it cannot rot) and writes its own
section of RESULTS.md without touching the others."""

import argparse

from core.bench import metro as bench


def test_metro_benchmark_runs_on_a_tiny_day_and_writes_its_section(tmp_path, capsys) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(
        "# Results\n\n## Solomon\n\nkept\n\n## Metro days\n\nold table\n\n## Seed and import\n\nkept too\n"
    )
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(
        ["--cases", "tiny", "--budgets", "1", "--workers", "2", "--results", str(results)]
    )
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "| tiny | first |" in out and "| tiny | 1 s |" in out
    text = results.read_text()
    assert "old table" not in text
    assert text.count("## Metro days") == 1
    assert "## Solomon\n\nkept" in text and "## Seed and import\n\nkept too" in text
    assert "Command: `ctower bench metro" in text


def test_the_section_is_added_to_a_file_without_one(tmp_path) -> None:
    results = tmp_path / "RESULTS.md"
    bench.write_section(results, "cmd", "body")
    assert results.read_text().endswith("## Metro days\n\nbody\n")


def test_tiny_day_has_two_hubs_and_the_break_rule() -> None:
    day = bench.CASES["tiny"][1](0)
    assert len(day.hubs) == 2 and len(day.orders) == 60
    assert all(d.work_before_break_s > 0 and d.break_duration_s == 1800 for d in day.drivers)
