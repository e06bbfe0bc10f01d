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
