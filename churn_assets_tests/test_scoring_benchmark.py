"""The scoring benchmark judges path / bare on CPU time, as benchmarks/README.md documents."""

from benchmarks.scoring_families import PATH_TARGET, path_rows


def _entry(ratio_cpu: float, ratio_wall: float) -> dict:
    return {
        "bare": {"seconds": 10.0, "cpu_seconds": 8.0},
        "path": {"seconds": 10.0 * ratio_wall, "cpu_seconds": 8.0 * ratio_cpu},
        "bare_rows_per_second": 100_000,
        "path_rows_per_second": round(100_000 / ratio_wall),
        "ratio_cpu": ratio_cpu,
        "ratio_wall": ratio_wall,
    }


def _verdict(entry: dict) -> str:
    ratio = path_rows(1_000_000, entry, 3)[-1]
    assert ratio["measurement"] == "1,000,000 rows: ratio path / bare (CPU time)"
    assert ratio["value"] == f"{entry['ratio_cpu']:.2f}"
    return ratio["note"]


def test_a_wall_ratio_stretched_by_load_does_not_fail_a_cpu_ratio_within_target():
    note = _verdict(_entry(ratio_cpu=1.10, ratio_wall=1.35))
    assert f"target <= {PATH_TARGET} CPU: met" in note and "wall-time ratio 1.35" in note


def test_a_cpu_ratio_over_target_is_missed_whatever_the_wall_ratio():
    assert f"target <= {PATH_TARGET} CPU: MISSED" in _verdict(_entry(1.25, 0.90))
