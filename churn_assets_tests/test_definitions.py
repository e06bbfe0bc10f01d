"""The code location as a whole: it loads, its lineage matches the snapshot, its CLIs work."""

import json
import os
import subprocess
import sys
from pathlib import Path

from churn_assets.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.json"
BIN = Path(sys.executable).parent


def asset_specs() -> dict:
    """Key, deps, group, kinds, owners and checks of every asset, as reviewers read them."""
    graph = defs.resolve_asset_graph()
    specs = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        specs[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "checks": sorted(c.name for c in node.check_keys),
            "partitioned": node.is_partitioned,
        }
    return specs


def test_asset_specs_match_the_snapshot():
    """A change to the lineage shows up here; update with CHURN_UPDATE_SNAPSHOTS=1."""
    current = asset_specs()
    if os.environ.get("CHURN_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_asset_has_a_description_owner_and_group():
    for spec in defs.resolve_all_asset_specs():
        assert spec.description, spec.key
        assert spec.owners, spec.key
        assert spec.group_name != "default", spec.key


def test_dagster_definitions_validate():
    out = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "churn_assets.definitions"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]


def test_dagster_job_execute_runs_the_data_job(tmp_path):
    config = tmp_path / "run.yaml"
    # In process: one interpreter, not one importing the project per step (196 s in CI).
    config.write_text(
        "resources:\n  dataset:\n    config:\n      n_rows: 2000\n"
        "execution:\n  config:\n    in_process: {}\n"
    )
    out = subprocess.run(
        [str(BIN / "dagster"), "job", "execute", "-m", "churn_assets.definitions"]
        + ["-j", "data_job", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CHURN_HOME": str(tmp_path / "home")},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RUN_SUCCESS" in out.stderr + out.stdout
    assert (tmp_path / "home" / "assets" / "features.parquet").exists()


def test_cli_run_prints_a_summary(tmp_path, monkeypatch, capsys):
    from churn_assets import cli

    monkeypatch.delenv("DAGSTER_HOME")
    monkeypatch.setenv("CHURN_HOME", str(tmp_path / "home"))
    spec = tmp_path / "small.yaml"
    spec.write_text(
        (Path(cli.__file__).parent / "datasets" / "synthetic.yaml")
        .read_text()
        .replace("n_rows: 20000", "n_rows: 2500")
    )
    assert cli.main(["run", "--job", "data_job", "--spec", str(spec)]) == 0
    printed = capsys.readouterr().out
    assert "data_job: SUCCESS" in printed
    assert "checks passed: 6/6" in printed
    assert "rows in 2500, kept" in printed
    home = tmp_path / "home" / "dagster_home"
    assert (home / "dagster.yaml").exists() and os.environ["DAGSTER_HOME"] == str(home)


def _step_pids(home) -> dict[str, int]:
    """step -> process id of its STEP_START, for the newest run under `home`."""
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home / "dagster_home"))) as instance:
        run = instance.get_runs(limit=1)[0]
        return {
            r.dagster_event.step_key: r.dagster_event.pid
            for r in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_START)
        }


def test_cli_run_with_step_processes_runs_each_step_in_its_own_process(
    tmp_path, monkeypatch, capfd
):
    """`--step-processes`: a child per step, one at a time; without it every step runs in the
    command's own process (the same spec, so the flag alone makes the difference)."""
    from churn_assets import cli

    spec = tmp_path / "small.yaml"
    spec.write_text(
        (Path(cli.__file__).parent / "datasets" / "synthetic.yaml")
        .read_text()
        .replace("n_rows: 20000", "n_rows: 2500")
    )
    for name, flags in (("isolated", ["--step-processes"]), ("together", [])):
        monkeypatch.delenv("DAGSTER_HOME", raising=False)  # each run its own home
        monkeypatch.setenv("CHURN_HOME", str(tmp_path / name))
        argv = ["run", "--job", "data_job", "--spec", str(spec), *flags]
        assert cli.main(argv) == 0
        printed = capfd.readouterr()
        assert "data_job: SUCCESS" in printed.out
        assert " - dagster - " not in printed.err + printed.out  # the steps' log: in the file
        log = next((tmp_path / name / "logs").glob("data_job-*.log")).read_text()
        assert "STEP_SUCCESS" in log and 'step "features"' in log
    isolated, together = _step_pids(tmp_path / "isolated"), _step_pids(tmp_path / "together")
    assert set(isolated) == set(together) and len(isolated) >= 3
    assert os.getpid() not in isolated.values()
    assert len(set(isolated.values())) == len(isolated)
    assert set(together.values()) == {os.getpid()}
