"""The data-assets benchmark judges Dagster / direct on CPU time from 1M rows on, as
benchmarks/README.md documents; the wall ratio goes in the note."""

from benchmarks.data_assets import TARGET_RATIO, size_rows


def _entry(ratio_cpu: float, ratio_wall: float) -> dict:
    worker = {"repeats": 3, "peak_rss_mb": 100.0}
    return {
        "direct": {
            **worker,
            "seconds": {"total": 10.0, "validate": 5.0},
            "cpu_seconds": {"total": 8.0},
            "validate_rows_per_second": 200_000,
        },
        "dagster": {
            **worker,
            "seconds": {"total": 10.0 * ratio_wall},
            "cpu_seconds": {"total": 8.0 * ratio_cpu},
        },
        "ratio_cpu_dagster_over_direct": ratio_cpu,
        "ratio_dagster_over_direct": ratio_wall,
        "dagster_extra_cpu_seconds_by_piece": {"io: parquet decode": 1.5},
    }


def _ratio_row(rows: int, entry: dict) -> dict:
    return next(r for r in size_rows(rows, entry) if "ratio (a)/(b)" in r["measurement"])


def test_a_wall_ratio_within_target_does_not_hide_a_cpu_ratio_over_it():
    ratio = _ratio_row(1_000_000, _entry(ratio_cpu=1.25, ratio_wall=1.04))
    assert ratio["value"] == "1.25"
    assert f"target <= {TARGET_RATIO} CPU: MISSED" in ratio["note"]
    assert "wall-time ratio 1.04" in ratio["note"]


def test_a_cpu_ratio_within_target_is_met_whatever_the_wall_ratio():
    rows = size_rows(5_000_000, _entry(ratio_cpu=1.12, ratio_wall=1.40))
    assert f"target <= {TARGET_RATIO} CPU: met" in _ratio_row(5_000_000, _entry(1.12, 1.40))["note"]
    assert not any("largest extra CPU" in r["measurement"] for r in rows)


def test_below_1m_rows_the_ratio_is_reported_not_judged():
    ratio = _ratio_row(100_000, _entry(ratio_cpu=1.80, ratio_wall=1.90))
    assert "target" not in ratio["note"]


def test_a_failed_size_is_one_error_row():
    entry = _entry(1.0, 1.0)
    entry["dagster"] = {"error": "worker timed out after 900 s"}
    assert size_rows(1_000_000, entry) == [
        {
            "benchmark": "data_assets",
            "measurement": "1,000,000 rows",
            "value": "error",
            "note": "worker timed out after 900 s",
        }
    ]
