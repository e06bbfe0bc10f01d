"""`churn-assets run` with hostile input: the last lines printed say why, in words, with no stack.

A handful of cases only (each real run materializes the data job): a wrong job name, a bad spec,
a source column that collides with an internal name, a failing blocking check, and a local run
killed with SIGKILL that the next `churn-assets run` marks failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from churn_assets import cli
from churn_assets.local import ensure_local_home
from churn_assets_tests.hostile.corpus import table


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME")
    monkeypatch.setenv("CHURN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _spec(folder, csv: str, extra: str = "", name: str = "myspec") -> str:
    (folder / "data.csv").write_text(csv)
    path = folder / name  # no .yaml suffix: `--spec myspec` names an existing file
    path.write_text(
        "name: cli\nid_column: id\ntarget_column: churn\n"
        f"source: {{kind: file, path: data.csv}}\n{extra}"
    )
    return str(path)


def _printed(capsys) -> tuple[list[str], str]:
    captured = capsys.readouterr()
    return [line for line in captured.out.splitlines() if line.strip()], captured.err


def test_job_name_with_a_dash_suggests_the_real_one(home, capsys):
    assert cli.main(["run", "--job", "data-job"]) == 2
    lines, _ = _printed(capsys)
    assert lines[-1].startswith("  no job named 'data-job'; did you mean 'data_job'? (jobs: ")


def test_bad_spec_is_refused_before_the_run(home, tmp_path, capsys):
    spec = tmp_path / "myspec"
    spec.write_text(
        "name: cli\ntarget_column: churn\nsource: {kind: file, path: d.csv, encoding: utf-9}\n"
    )
    assert cli.main(["run", "--job", "data_job", "--spec", str(spec)]) == 2
    lines, _ = _printed(capsys)
    assert "source.encoding 'utf-9' is not a known encoding; did you mean 'utf-8'?" in lines[-1]


@pytest.mark.slow
def test_failed_step_is_explained_last_and_the_event_log_goes_to_a_file(home, tmp_path, capsys):
    csv = table(header="id,tenure,churned,plan,churn")
    assert cli.main(["run", "--job", "data_job", "--spec", _spec(tmp_path, csv)]) == 1
    lines, err = _printed(capsys)
    assert lines[-2] == "Why the run failed (data_job):"
    assert lines[-1] == (
        "  step 'validate_dataset' failed: SchemaError: source column 'churned' has the name "
        "the pipeline gives the 0/1 target; rename it in the source or add it to drop_columns"
    )
    assert not any(line.lstrip().startswith(('File "', "Traceback")) for line in lines)
    assert "STEP_FAILURE" not in err  # Dagster's log went to the file, not the screen
    [log] = (home / "logs").glob("data_job-*.log")
    assert "STEP_FAILURE" in log.read_text()


def test_a_semicolon_file_is_told_to_set_its_delimiter(home, tmp_path, capsys):
    csv = "id;tenure;plan;churn\n" + "".join(f"{i};{i % 70};basic;Yes\n" for i in range(50))
    assert cli.main(["run", "--job", "data_job", "--spec", _spec(tmp_path, csv)]) == 1
    lines, _ = _printed(capsys)
    assert lines[-1] == (
        "  step 'validate_dataset' failed: SchemaError: target column 'churn' is not in the "
        "table (columns: ['id;tenure;plan;churn']); the file has a single column: set "
        "source.delimiter (e.g. ';') in the spec"
    )


@pytest.mark.slow
def test_failed_check_is_explained_with_its_column(home, tmp_path, capsys):
    csv = table(edit=lambda i, line: line.replace(f"{20 + i}.5", "#VALUE!") if i % 5 == 0 else line)
    extra = "numeric_columns: [tenure, charges]\ncategorical_columns: [plan]\n"
    assert cli.main(["run", "--job", "data_job", "--spec", _spec(tmp_path, csv, extra)]) == 1
    lines, _ = _printed(capsys)
    assert lines[-3:] == [
        "Why the run failed (data_job):",
        "  failed check validated_dataset:schema_compliance column 'charges': "
        "observed 0.2, threshold 0.05",
        "  blocking checks failed, so the assets after them were not materialized",
    ]


SLEEPER = textwrap.dedent(
    """
    import time
    from dagster import DagsterInstance, job, op
    from churn_assets.local import ensure_local_home

    @op
    def wait():
        time.sleep(300)

    @job
    def sleeper():
        wait()

    ensure_local_home()
    with DagsterInstance.get() as instance:
        sleeper.execute_in_process(instance=instance)
    """
)


@pytest.mark.slow
def test_run_killed_with_sigkill_is_marked_failed_by_the_next_run(home, tmp_path, capsys):
    ensure_local_home()
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    proc = subprocess.Popen([sys.executable, str(script)], env=dict(os.environ))
    try:
        with DagsterInstance.get() as instance:
            deadline = time.monotonic() + 120
            while not instance.get_runs() or instance.get_runs()[0].status.value != "STARTED":
                assert time.monotonic() < deadline and proc.poll() is None, "sleeper never started"
                time.sleep(0.5)
            run_id = instance.get_runs()[0].run_id
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED  # stuck
    finally:
        if proc.poll() is None:
            proc.kill()
    assert cli.main(["run", "--job", "data-job"]) == 2  # the sweep runs before anything else
    lines, _ = _printed(capsys)
    assert f"  marked stale run {run_id} as failed (its process is gone)" in lines
    with DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE


def test_a_stopped_run_says_it_was_stopped_not_the_error_class():
    """Ctrl-C or SIGTERM during a step: Dagster's error has only its class name as message."""
    from dagster import job, op
    from dagster._core.errors import DagsterExecutionInterruptedError

    from churn_assets.run_report import failure_lines

    @op
    def wait():
        raise DagsterExecutionInterruptedError()  # what Dagster raises in a step on a signal

    @job
    def sleeper():
        wait()

    result = sleeper.execute_in_process(raise_on_error=False)
    assert failure_lines(result) == [
        "Why the run failed (sleeper):",
        "  step 'wait' failed: DagsterExecutionInterruptedError: the run was stopped while this "
        "step ran (Ctrl-C, SIGTERM or a terminate from the UI); the steps after it did not run, "
        "run the job again to finish",
    ]
