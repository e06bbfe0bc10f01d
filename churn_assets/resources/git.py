"""The commit the code runs from, for the lineage tags of MLflow runs."""

import subprocess
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # churn_assets/, inside the checkout


class GitResource(ConfigurableResource):
    """A pinned commit (set in images, which carry no .git) or `git rev-parse HEAD`."""

    sha: str | None = Field(None, description="The commit, when known (CHURN_GIT_SHA in images).")
    repo_dir: str | None = Field(
        None, description="Folder git is asked in; the package's folder when unset."
    )
    timeout_seconds: float = Field(5.0, gt=0, description="Bound on the git call.")
    _found: str | None = PrivateAttr(None)

    def commit_sha(self) -> str:
        """The configured sha, else HEAD of the checkout, else 'unknown' (no git, not a
        checkout, or git too slow): the tag is informative, never a reason to fail a run."""
        if self.sha:
            return self.sha
        if self._found is None:
            self._found = self._ask_git()
        return self._found

    def _ask_git(self) -> str:
        try:
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=self.repo_dir or PACKAGE_DIR,
                capture_output=True,
                text=True,
                timeout=self.timeout_seconds,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return "unknown"
        return out.stdout.strip() or "unknown"
