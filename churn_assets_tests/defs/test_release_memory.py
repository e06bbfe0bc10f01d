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


def _step_process(results) -> None:
    """A process that runs one step and ends, as the multiprocess executor's children do."""
    import psutil
    from joblib import Parallel, delayed

    from churn_assets.cli_process import in_step_process
    from churn_assets.resources.mlflow_tracking import MlflowResource

    Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(4))  # leaves idle loky workers

    def loky_workers() -> int:
        children = psutil.Process().children(recursive=True)
        return sum("popen_loky" in " ".join(c.cmdline()) for c in children)

    before = loky_workers()
    MlflowResource(tracking_uri="file:///nowhere").teardown_after_execution(None)  # step's end
    results.put((in_step_process(), before, loky_workers()))


def test_a_step_process_stops_its_idle_joblib_workers_and_exits_promptly():
    """Left alone, loky's idle workers held a step process's exit for their 5-minute idle
    timeout (`churn-assets run --step-processes` took 6 min instead of 72 s at 20k rows). Every
    step that uses them uses the MLflow resource, whose teardown stops them."""
    import multiprocessing

    from churn_assets.cli_process import in_step_process

    assert not in_step_process()  # the test's own process runs every step: workers are kept
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    child = ctx.Process(target=_step_process, args=(results,))
    child.start()
    child.join(timeout=90)
    assert child.exitcode == 0, "the step process did not exit within 90 s"
    in_step, before, after = results.get(timeout=5)
    assert in_step and before == 2 and after == 0
