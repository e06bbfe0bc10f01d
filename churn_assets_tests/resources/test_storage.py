"""The local side of the storage roots: reports written atomically, landing reads and listings."""

import os
from pathlib import Path

import pytest

from churn_assets.resources.landing import LocalLanding
from churn_assets.resources.reports import LocalReports


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_report_is_written_whole_and_its_path_returned(tmp_path):
    reports = LocalReports(folder=str(tmp_path / "reports"))

    where = reports.write("drift/b1.csv.html", b"<html>1</html>")

    assert where == str((tmp_path / "reports" / "drift" / "b1.csv.html").resolve())
    assert Path(where).read_bytes() == b"<html>1</html>"
    assert _files(tmp_path / "reports") == ["drift/b1.csv.html"]  # no temporary file left


def test_a_failed_report_write_keeps_the_previous_report(tmp_path, monkeypatch):
    reports = LocalReports(folder=str(tmp_path))
    reports.write("r.html", b"old")

    def failing_replace(src, dst, *args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        reports.write("r.html", b"new")

    assert (tmp_path / "r.html").read_bytes() == b"old"
    assert _files(tmp_path) == ["r.html"]


def test_relative_folders_are_recorded_as_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    where = LocalReports(folder="reports").write("a.html", b"x")
    assert where == str(tmp_path.resolve() / "reports" / "a.html")


def test_landing_reads_a_batch_and_names_a_missing_one(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"customer_id\nC1\n")
    landing = LocalLanding(folder=str(tmp_path))

    assert landing.read("a.csv") == b"customer_id\nC1\n"
    assert landing.uri("a.csv") == str(tmp_path.resolve() / "a.csv")
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path.resolve()}/b.csv is not in the"):
        landing.read("b.csv")


def test_a_missing_landing_folder_lists_no_batches_and_folders_are_not_batches(tmp_path):
    assert LocalLanding(folder=str(tmp_path / "nowhere")).list_batches() == {}
    (tmp_path / "looks_like.csv").mkdir()
    (tmp_path / "real.csv").write_bytes(b"customer_id\n")
    assert list(LocalLanding(folder=str(tmp_path)).list_batches()) == ["real.csv"]
