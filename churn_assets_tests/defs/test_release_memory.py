"""Between the steps of a run, what a step freed is released (`resources/memory.py`).

`churn-assets run` executes every step of `training_job` in one process. A step's cyclic garbage
(frames, contexts, the tables they hold) lives until the collector's next full pass, which a
process of a few large arrays rarely triggers; the jobs' hooks collect it after each step.
"""

import gc
import weakref

import pandas as pd
import pytest
from dagster import AssetKey, Definitions, asset, build_input_context, define_asset_job, materialize

from churn_assets.defs import jobs
from churn_assets.resources import parquet_io
from churn_assets.resources.parquet_io import LocalParquetIOManager

LEFT: dict[str, weakref.ref] = {}


class Table(list):
    """Something a weak reference can point at, as a DataFrame can."""


@asset
def leaves_a_cycle() -> int:
    table = Table(range(1000))
    table.append(table)  # a cycle: only the collector frees it
    LEFT["table"] = weakref.ref(table)
    return 1


@asset(deps=[leaves_a_cycle])
def finds_it_freed() -> int:
    if LEFT["table"]() is not None:
        raise RuntimeError("the previous step's cyclic garbage is still in memory")
    return 1


def _run(hooks) -> bool:
    job = define_asset_job("two_steps", hooks=hooks)
    defs = Definitions(assets=[leaves_a_cycle, finds_it_freed], jobs=[job])
    enabled = gc.isenabled()
    gc.disable()  # only an explicit collection may free the cycle
    try:
        return defs.resolve_job_def("two_steps").execute_in_process(raise_on_error=False).success
    finally:
        if enabled:
            gc.enable()


def test_the_hooks_free_a_steps_cyclic_garbage_before_the_next_step():
    assert _run(jobs.RELEASE_MEMORY)


def test_without_them_it_would_still_be_there():
    assert not _run(set())


@pytest.mark.parametrize("job", [jobs.training_job, jobs.data_job], ids=lambda j: j.name)
def test_training_and_data_jobs_release_memory_after_each_step(job):
    assert jobs.RELEASE_MEMORY <= set(job.hooks)


def test_loading_and_storing_a_table_returns_arrows_free_pages(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(parquet_io, "release_arrow_pool", lambda: calls.append("released"))
    frame = pd.DataFrame({"customer_id": ["a", "b"], "tenure": [1.0, 2.0]})

    @asset
    def customers() -> pd.DataFrame:
        return frame

    io_manager = LocalParquetIOManager(base_dir=str(tmp_path))
    assert materialize([customers], resources={"io_manager": io_manager}).success
    assert calls == ["released"]  # after encoding
    loaded = io_manager.load_input(build_input_context(asset_key=AssetKey("customers")))
    pd.testing.assert_frame_equal(loaded, frame)
    assert calls == ["released", "released"]  # after decoding
