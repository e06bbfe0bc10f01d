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


def _fake_worker(cpu: dict[str, list[float]], calls: list[str]):
    """A run_worker that hands out the given CPU seconds per task in call order."""

    def run(module, task, params, timeout):
        calls.append(task)
        seconds = cpu[task].pop(0)
        if seconds is None:
            return {"error": "worker failed"}
        return {
            "rows": params["rows"],
            "seconds": {"total": seconds, "validate": seconds / 2},
            "cpu_seconds": {"total": seconds},
            "validate_rows_per_second": 1000.0,
            "process_seconds": 5.0,
            "peak_rss_mb": 100.0,
            "outside_steps_seconds": 0.1,
        }

    return run


def test_runs_alternate_in_pairs_and_the_judged_ratio_is_the_median_of_the_pairs(monkeypatch):
    import benchmarks.data_assets as data_assets

    calls: list[str] = []
    # The machine slows down over the run: both runs of each pair share the slowdown.
    cpu = {"direct": [10.0, 20.0, 30.0], "dagster": [11.0, 26.0, 33.0]}
    monkeypatch.setattr(data_assets, "run_worker", _fake_worker(cpu, calls))
    monkeypatch.setattr(data_assets, "git_sha", lambda: "abc")
    params = {**data_assets._params(quick=False), "pairs": 3}
    entry = data_assets.measure_size(1_000_000, params)
    assert calls == ["direct", "dagster", "dagster", "direct", "direct", "dagster"]
    assert entry["pair_ratios_cpu"] == [1.1, 1.3, 1.1]
    assert entry["ratio_cpu_dagster_over_direct"] == 1.1  # the median pair
    assert entry["ratio_cpu_of_medians"] == 1.3  # 26 / 20: the drift left in
    assert entry["direct"]["repeats"] == 3 and len(entry["dagster"]["runs"]) == 3
    note = _ratio_row(1_000_000, entry)["note"]
    assert "median of 3 alternated pairs (1.10, 1.30, 1.10)" in note and "met" in note


def test_pairs_stop_at_a_failed_run_and_the_size_reports_it(monkeypatch):
    import benchmarks.data_assets as data_assets

    calls: list[str] = []
    cpu = {"direct": [10.0, 10.0], "dagster": [11.0, None]}
    monkeypatch.setattr(data_assets, "run_worker", _fake_worker(cpu, calls))
    monkeypatch.setattr(data_assets, "git_sha", lambda: "abc")
    params = {**data_assets._params(quick=False), "pairs": 5}
    entry = data_assets.measure_size(1_000_000, params)
    assert calls == ["direct", "dagster", "dagster", "direct"]
    assert entry["pair_ratios_cpu"] == [1.1]  # the failed pair is not judged
    assert entry["dagster"]["failed_runs"] == ["worker failed"]
