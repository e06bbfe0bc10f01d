"""A tiny code location for the Kubernetes launcher tests: quick to import, quick to run.

`dagster api execute_run` in a simulated pod loads this module by name, so it must stay free of
the project's heavier imports.
"""

import time

from dagster import (
    Config,
    Definitions,
    OpExecutionContext,
    asset,
    define_asset_job,
    in_process_executor,
    job,
    op,
)


@asset
def tiny_numbers() -> list[int]:
    return [1, 2, 3]


@asset
def tiny_total(tiny_numbers: list[int]) -> int:
    return sum(tiny_numbers)


tiny_assets_job = define_asset_job("tiny_assets_job", selection=[tiny_numbers, tiny_total])


class NapConfig(Config):
    seconds: float = 20.0


@op
def nap(context: OpExecutionContext, config: NapConfig) -> None:
    """Sleeps long enough for a test to kill or terminate the pod running it."""
    context.log.info(f"napping for {config.seconds} s")
    deadline = time.monotonic() + config.seconds
    while time.monotonic() < deadline:
        time.sleep(0.2)


@job(executor_def=in_process_executor)
def sleepy_job():
    nap()


defs = Definitions(
    assets=[tiny_numbers, tiny_total],
    jobs=[tiny_assets_job, sleepy_job],
    executor=in_process_executor,
)
