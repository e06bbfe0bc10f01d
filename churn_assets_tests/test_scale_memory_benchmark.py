"""`benchmarks.scale_memory` keeps each size's profile: a 5M run does not overwrite the 1M one."""

from benchmarks.scale_memory import merged

ONE_M = {"rows": 1_000_000, "peak_process_mib": 2390, "steps": {}}


def test_a_new_size_is_added_beside_the_stored_one():
    previous = {"params": {"rows": 1_000_000}, "results": {"1000000": ONE_M}}
    five = {"rows": 5_000_000, "peak_process_mib": 7000, "steps": {}}
    sizes = merged(previous, 5_000_000, five)
    assert sizes == {"1000000": ONE_M, "5000000": five}


def test_the_same_size_is_replaced_by_its_newer_run():
    previous = {"results": {"1000000": ONE_M}}
    newer = {**ONE_M, "peak_process_mib": 2000}
    assert merged(previous, 1_000_000, newer) == {"1000000": newer}


def test_a_document_of_the_single_size_layout_becomes_one_entry_with_its_params():
    previous = {"params": {"rows": 1_000_000, "how": "a driver script"}, "results": ONE_M}
    five = {"rows": 5_000_000, "steps": {}}
    sizes = merged(previous, 5_000_000, five)
    assert sizes["1000000"] == {**ONE_M, "params": previous["params"]}
    assert sizes["5000000"] == five


def test_nothing_stored_yet():
    assert merged({}, 5_000_000, {"rows": 5_000_000}) == {"5000000": {"rows": 5_000_000}}


def test_a_step_processes_run_is_kept_beside_the_one_process_run_of_its_size():
    from benchmarks.scale_memory import _order, size_key

    five = {"rows": 5_000_000, "steps": {}}
    isolated = {**five, "mode": "step-processes"}
    sizes = merged({"results": {"5000000": five}}, 5_000_000, isolated, size_key(5_000_000, True))
    assert sizes == {"5000000": five, "5000000 step-processes": isolated}
    assert sorted([*sizes, "1000000"], key=_order)[0] == "1000000"


def test_the_summary_of_a_step_processes_run_names_its_largest_process():
    from benchmarks.scale_memory import _summary_row

    step = {"peak_process_mib": 300, "peak_tree_mib": 7000, "peak_largest_process_mib": 5000}
    res = {
        "rows": 5_000_000,
        "mode": "step-processes",
        "peak_process_mib": 300,
        "peak_tree_mib": 7000,
        "peak_largest_process_mib": 5000,
        "steps": {"promoted_model": step, "features": {**step, "peak_largest_process_mib": 900}},
    }
    line = _summary_row(res)
    assert line["value"].startswith("5000 MiB (largest process")
    assert "highest in promoted_model" in line["note"] and "--step-processes" in line["measurement"]
