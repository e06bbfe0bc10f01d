"""`churn-assets` ends promptly: joblib's idle workers are stopped and shutdown's garbage
collections skip what is still alive; and the command starts without importing Dagster or MLflow,
so the MLflow store's child process starts first."""

import subprocess
import sys
import textwrap


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_workers_are_stopped_and_live_objects_frozen():
    out = _python(
        """
        import gc, psutil
        from joblib import Parallel, delayed
        from churn_assets.cli_process import leave_quickly

        Parallel(n_jobs=2, backend="loky")(delayed(abs)(-i) for i in range(4))
        def workers():
            return [p for p in psutil.Process().children(recursive=True)
                    if "LokyProcess" in " ".join(p.cmdline())]
        before = len(workers())
        leave_quickly()
        print(before, len(workers()), gc.get_freeze_count() > 0)
        """
    )
    before, after, frozen = out.split()
    assert int(before) > 0 and int(after) == 0 and frozen == "True"


def test_no_pool_is_started_just_to_stop_it():
    out = _python(
        """
        import psutil
        from churn_assets.cli_process import leave_quickly

        leave_quickly()
        print(len(psutil.Process().children(recursive=True)))
        """
    )
    assert out == "0"


def test_the_command_module_imports_neither_dagster_nor_mlflow():
    out = _python(
        """
        import sys
        import churn_assets.cli
        print(sorted(m for m in ("dagster", "mlflow", "sklearn", "pandas") if m in sys.modules))
        """
    )
    assert out == "[]"
