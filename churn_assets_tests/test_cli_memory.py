"""`churn-assets run` does not keep step outputs alive for the whole run.

`job.execute_in_process` stores every output for `output_for_node`, so a 1M-row run held the raw,
validated and feature tables and every trained model until its end. The CLI runs its job the way
`dagster job execute` does: a step's output lives in the IO manager, and once stored the object
can be freed. Here the downstream step checks that the upstream's returned object is gone.
"""

import gc
import weakref

import pytest
from dagster import (
    AssetExecutionContext,
    DagsterInstance,
    Definitions,
    FilesystemIOManager,
    asset,
    define_asset_job,
)

from churn_assets import cli

RETURNED: dict[str, weakref.ref] = {}


class Table(list):
    """Something a weak reference can point at, as a DataFrame can."""


@asset
def upstream_table() -> Table:
    table = Table(range(1000))
    RETURNED["upstream_table"] = weakref.ref(table)
    return table


@asset
def downstream_table(context: AssetExecutionContext, upstream_table: Table) -> int:
    gc.collect()
    held = RETURNED["upstream_table"]() is not None
    context.log.info(f"upstream object still alive: {held}")
    if held:
        raise RuntimeError("the upstream step's returned object is still held by the run")
    return len(upstream_table)


def _job(tmp_path):
    defs = Definitions(
        assets=[upstream_table, downstream_table],
        jobs=[define_asset_job("two_steps")],
        resources={"io_manager": FilesystemIOManager(base_dir=str(tmp_path / "store"))},
    )
    return defs.resolve_job_def("two_steps")


@pytest.fixture
def two_steps(tmp_path, monkeypatch):
    job = _job(tmp_path)
    monkeypatch.setattr(cli, "job_named", lambda name: job)
    return job


def test_the_cli_frees_a_step_output_once_it_is_stored(two_steps, tmp_path):
    with DagsterInstance.ephemeral() as instance:
        with cli._execute_steps(two_steps, {}, instance) as result:
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            materialized = {
                e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
            }
    assert materialized == {"upstream_table", "downstream_table"}


def test_execute_in_process_would_hold_it(two_steps):
    """The case the CLI avoids: the same job through `execute_in_process` fails the check above."""
    result = two_steps.execute_in_process(raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["downstream_table"]
