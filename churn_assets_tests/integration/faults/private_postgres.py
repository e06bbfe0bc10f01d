"""A private PostgreSQL 15 cluster (initdb into a temporary folder, a free port, trust auth on
127.0.0.1) that a test may stop and start without disturbing the shared cluster."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from churn_assets_tests.integration.services import free_port, require_service

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(args: list[str]) -> subprocess.CompletedProcess:
    command = [str(a) for a in args]
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


class PrivatePostgres:
    def __init__(self):
        usable = (BIN / "initdb").exists() and (os.geteuid() != 0 or shutil.which("runuser"))
        require_service(bool(usable), f"PostgreSQL 15 binaries not found in {BIN}")
        self.root = Path(tempfile.mkdtemp(prefix="churn-pg-"))
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = free_port()
        done = _as_postgres(
            [BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        )
        require_service(done.returncode == 0, f"initdb failed: {done.stderr[-2000:]}")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        done = _as_postgres(
            [BIN / "pg_ctl", "-D", self.data, "-o", options, "-l", self.root / "log", "-w", "start"]
        )
        require_service(done.returncode == 0, f"pg_ctl start failed: {done.stderr or done.stdout}")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash as far as clients can tell: connections are cut at once."""
        _as_postgres([BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"])

    def create_database(self, name: str) -> None:
        done = _as_postgres(
            [BIN / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", name]
        )
        assert done.returncode == 0, done.stderr

    def close(self) -> None:
        self.stop("fast")
        shutil.rmtree(self.root, ignore_errors=True)
