"""A reachable PostgreSQL and a fresh database on it for the integration tests.

`CHURN_PG_URL` (postgresql://user:password@host:port/db, a role that may CREATE DATABASE) names an
existing server. Without it the local cluster is started (`pg_ctlcluster 15 main start`, which is
harmless when it already runs) and a password role `churn`/`churn` with CREATEDB is set up through
the `postgres` superuser (`runuser -u postgres -- psql`, peer authentication on the unix socket).
Either way each `postgres_database()` creates its own `churn_test_<random>` database and drops it
on exit. A server that cannot be reached skips (or, with CHURN_REQUIRE_SERVICES=1, fails) the test.
"""

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from churn_assets_tests.integration.services import require_service

PG_URL_ENV = "CHURN_PG_URL"
CLUSTER = ("15", "main")
LOCAL_ROLE = ("churn", "churn")


@dataclass(frozen=True)
class PostgresDatabase:
    """Where a database is and how to log in to it."""

    host: str
    port: int
    user: str
    password: str
    db: str

    def url(self, driver: str = "postgresql") -> str:
        """A SQLAlchemy/libpq URL, e.g. `postgresql+psycopg2://churn:...@127.0.0.1:5432/db`."""
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"{driver}://{credentials}@{self.host}:{self.port}/{self.db}"

    def connect(self):
        """A psycopg2 connection in autocommit mode (the caller closes it)."""
        import psycopg2

        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.db,
            connect_timeout=5,
        )
        conn.autocommit = True
        return conn

    def with_db(self, db: str) -> "PostgresDatabase":
        return PostgresDatabase(self.host, self.port, self.user, self.password, db)


def _try_connect(server: PostgresDatabase) -> str | None:
    """None when `server` accepts a login, else the error (first line)."""
    import psycopg2

    try:
        server.connect().close()
    except psycopg2.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def _from_url(url: str) -> PostgresDatabase:
    parts = urlsplit(url)
    return PostgresDatabase(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        db=parts.path.lstrip("/") or "postgres",
    )


def _as_postgres(sql: str) -> subprocess.CompletedProcess:
    """Run SQL as the `postgres` superuser over the unix socket (peer authentication)."""
    psql = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql]
    if os.geteuid() == 0 and shutil.which("runuser"):
        command = ["runuser", "-u", "postgres", "--", *psql]
    elif os.environ.get("USER") == "postgres":
        command = psql
    else:
        command = ["sudo", "-n", "-u", "postgres", *psql]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def _local_server(timeout: float = 30.0) -> tuple[PostgresDatabase | None, str]:
    """Start the local cluster if needed and set up the `churn` role; (server, why not)."""
    user, password = LOCAL_ROLE
    server = PostgresDatabase("127.0.0.1", 5432, user, password, "postgres")
    if _try_connect(server) is None:
        return server, ""
    if shutil.which("pg_ctlcluster") is None:
        return None, (
            "PostgreSQL is not installed (no pg_ctlcluster; apt-get install -y postgresql) and "
            f"{PG_URL_ENV} is not set"
        )
    # Exit code 2 is "already running"; a real failure shows up when psql cannot connect below.
    started = subprocess.run(
        ["pg_ctlcluster", *CLUSTER, "start"], capture_output=True, text=True, timeout=60
    )
    deadline = time.monotonic() + timeout
    while True:
        probe = _as_postgres("SHOW port")
        if probe.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if probe.returncode != 0:
        return None, (
            f"PostgreSQL {'/'.join(CLUSTER)} did not start "
            f"({(started.stderr or started.stdout).strip() or 'pg_ctlcluster said nothing'}); "
            f"psql as postgres: {probe.stderr.strip() or probe.returncode}"
        )
    port = int(probe.stdout.strip())
    # Concurrent sessions may race to create the role: a duplicate is as good as success.
    role = _as_postgres(
        f"DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN "
        f"CREATE ROLE {user} LOGIN CREATEDB PASSWORD '{password}'; "
        f"ELSE ALTER ROLE {user} LOGIN CREATEDB PASSWORD '{password}'; END IF; "
        f"EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
    )
    if role.returncode != 0:
        return None, f"could not create the PostgreSQL role '{user}': {role.stderr.strip()}"
    server = PostgresDatabase("127.0.0.1", port, user, password, "postgres")
    error = _try_connect(server)
    if error is not None:
        return None, f"PostgreSQL runs but '{user}' cannot log in over 127.0.0.1:{port}: {error}"
    return server, ""


def postgres_server() -> PostgresDatabase:
    """An account on a reachable server that may create databases; skips/fails by the policy."""
    url = os.environ.get(PG_URL_ENV, "").strip()
    if url:
        server = _from_url(url)
        error = _try_connect(server)
        require_service(error is None, f"PostgreSQL at {PG_URL_ENV} is unreachable: {error}")
        return server
    server, reason = _local_server()
    require_service(server is not None, reason)
    assert server is not None
    return server


@contextmanager
def postgres_database(prefix: str = "churn_test") -> Iterator[PostgresDatabase]:
    """A new empty database (`<prefix>_<random>`) on the server; dropped on exit, connections
    still open to it (a killed webserver's, say) are terminated first."""
    server = postgres_server()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = server.connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    try:
        yield server.with_db(name)
    finally:
        admin = server.connect()
        try:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.close()
