"""A training step in a multiprocessing child (the multiprocess executor's step process) exits
as soon as it is done: joblib's idle workers would otherwise hold it for their 300 s timeout
(303 s measured for such a child without `release_worker_pool`)."""

import multiprocessing
import subprocess
import sys
import time

from churn_assets.defs.training import release_worker_pool


def _step(done, release: bool) -> None:
    import math

    from joblib import Parallel, delayed

    Parallel(n_jobs=2)(delayed(math.sqrt)(i) for i in range(8))  # starts the worker pool
    if release:
        release_worker_pool()
    done.put(time.monotonic())


def _exit_seconds(release: bool, patience: float) -> float | None:
    """Seconds the child took to exit after its work, None when still alive after `patience`."""
    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    child = context.Process(target=_step, args=(done, release))
    child.start()
    try:
        finished = done.get(timeout=300)
        child.join(patience)
        return None if child.is_alive() else time.monotonic() - finished
    finally:
        if child.is_alive():
            child.kill()
            child.join()


def test_a_step_process_exits_once_its_training_is_done():
    assert _exit_seconds(release=True, patience=60) is not None


def test_a_main_process_keeps_its_pool_for_the_next_step():
    """In a main process (in-process executor, a Kubernetes step pod) the pool stays: the next
    training runs on the same worker processes. Checked in a fresh interpreter: touching loky's
    reusable executor here would leave this test worker a pool joblib cannot reuse."""
    code = (
        "import os\n"
        "from joblib import Parallel, delayed\n"
        "from churn_assets.defs.training import release_worker_pool\n"
        "def pids():\n"
        "    return set(Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(32)))\n"
        "before = pids()\n"
        "release_worker_pool()\n"
        "after = pids()\n"
        "assert os.getpid() not in before, 'joblib ran the tasks in this process'\n"
        "assert after and after <= before, (before, after)\n"
        "print('same workers', sorted(after))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0 and "same workers" in out.stdout, out.stderr[-3000:]
