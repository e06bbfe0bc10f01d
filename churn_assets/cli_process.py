"""The `churn-assets` process and Python's garbage collector: the long-lived objects of its imports
kept out of full collections while a job runs, and a prompt exit (profiled on `churn-assets run`,
20k rows, 2 cores)."""

import gc


def settle_imports() -> None:
    """Collect once, then move every object alive now to the collector's permanent generation
    (`gc.freeze()`): after importing Dagster, the code location, MLflow and scikit-learn these
    are about 450k module-level objects that live until exit. The job's hooks run a full
    collection after every step (`resources/memory.py`), and each full collection over them costs
    about 0.3-0.4 s CPU (about 5 s over `training_job`'s steps); frozen, it costs milliseconds.
    Objects made later are collected as usual."""
    gc.collect()
    gc.freeze()


def leave_quickly() -> None:
    """Stop joblib's idle worker processes now and take every live object out of the garbage
    collector's view, so interpreter shutdown does not spend seconds on them.

    - The search's loky workers stay alive, idle, for joblib's reuse timeout; at exit loky joins
      them while each tears its own interpreter down (about 1.2 s). Nothing runs on them any more,
      so they are terminated.
    - Python's shutdown runs full garbage collections over every object still alive (Dagster's,
      MLflow's, pydantic's and scikit-learn's module-level objects: about 2-2.6 s here).
      `gc.freeze()` moves them to the permanent generation, which those collections skip; the
      operating system frees the memory when the process ends. Nothing is left for the collector
      to finish: the Dagster instance is closed by the command's `with`, MLflow's calls are
      synchronous and committed, and atexit handlers still run (before those collections).
    """
    stop_joblib_workers()
    gc.freeze()


def stop_joblib_workers() -> None:
    """Terminate joblib's idle worker processes, if this process started any."""
    executor = _joblib_workers()
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def in_step_process() -> bool:
    """True in a process that runs one step and ends: a child of Dagster's multiprocess executor
    (`churn-assets run --step-processes`, `dagster job execute` by default) or a step pod's
    `dagster api execute_step`; false in a run's own process, which runs every step."""
    import multiprocessing
    import sys

    return multiprocessing.parent_process() is not None or "execute_step" in sys.argv


def _joblib_workers():
    """joblib's process pool if this process started one, else None. Read from loky's module
    global: `get_reusable_executor()` would start a pool (and its resource tracker) to return."""
    import sys

    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    return getattr(module, "_executor", None) if module is not None else None
