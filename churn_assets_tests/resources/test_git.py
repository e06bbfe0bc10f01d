"""GitResource: the pinned sha wins; otherwise git is asked in the configured folder."""

import subprocess

import pytest

from churn_assets.resources.git import GitResource


def _commit(folder) -> str:
    run = {"cwd": folder, "check": True, "capture_output": True, "text": True}
    subprocess.run(["git", "init", "-q"], **run)
    (folder / "f.txt").write_text("x")
    subprocess.run(["git", "add", "f.txt"], **run)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"], **run
    )
    return subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()


def test_the_configured_sha_wins_without_asking_git(tmp_path):
    assert GitResource(sha="abc123", repo_dir=str(tmp_path)).commit_sha() == "abc123"


def test_head_of_the_configured_checkout(tmp_path):
    sha = _commit(tmp_path)
    assert len(sha) == 40
    assert GitResource(repo_dir=str(tmp_path)).commit_sha() == sha


@pytest.mark.parametrize("where", ["not_a_checkout", "missing_folder"])
def test_unknown_outside_a_checkout(tmp_path, where):
    folder = tmp_path / where
    if where == "not_a_checkout":
        folder.mkdir()
    env_free = GitResource(repo_dir=str(folder))
    # A parent checkout must not answer for tmp_path: pytest's tmp dirs live outside any repo.
    assert env_free.commit_sha() == "unknown"
