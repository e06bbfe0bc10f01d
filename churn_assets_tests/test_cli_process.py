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


def test_settled_objects_are_frozen_and_later_garbage_is_still_collected():
    out = _python(
        """
        import gc, time, weakref
        from churn_assets.cli_process import settle_imports
        import churn_assets.definitions

        class Node:
            pass

        settle_imports()
        frozen = gc.get_freeze_count()
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle made after settling
        ref = weakref.ref(a)
        del a, b
        gc.collect()
        print(frozen > 100_000, ref() is None, len(gc.get_objects()) < 50_000)
        """
    )
    assert out == "True True True"


def test_only_the_console_script_changes_its_process(tmp_path):
    """`main([...])` inside another program (a test, a notebook) starts no store child and
    freezes nothing; `main()` with the command line does both (a mistyped job: no run)."""
    out = _python(
        f"""
        import gc, os, sys
        os.environ["CHURN_HOME"] = {str(tmp_path / "home")!r}
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.pop("DAGSTER_HOME", None)
        from churn_assets import cli

        assert cli.main(["run", "--job", "no_such_job"]) == 2
        print(gc.get_freeze_count() == 0, os.path.exists({str(tmp_path / "home" / "mlflow.db")!r}))
        sys.argv = ["churn-assets", "run", "--job", "no_such_job"]
        assert cli.main() == 2
        print(gc.get_freeze_count() > 0, os.path.exists({str(tmp_path / "home" / "mlflow.db")!r}))
        """
    )
    checks = [line for line in out.splitlines() if line.startswith(("True", "False"))]
    assert checks == ["True False", "True True"]
