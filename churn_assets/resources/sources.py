"""Fetch a dataset's bytes or rows: local files, file:// and http(s) URLs, S3 objects and SQL.

Parsing is not done here (see `churn_assets.ml.sources`); this module only moves bytes across the
process boundary and turns every way that can fail into a `SourceError` naming the location.
S3 goes through dagster-aws's `S3Resource`, so endpoint and credentials come from the deployment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import pandas as pd

from churn_assets.ml.sources import SourceError
from churn_assets.ml.spec import SourceSpec

SCHEMES = ("http", "https", "s3", "file")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def fetch_bytes(location: str, s3_client: Callable[[], object] | None = None) -> bytes:
    """The bytes at a local path, file://, http(s):// or s3:// location.

    `s3_client` builds a boto3 client (from `S3Resource.get_client`). Raises SourceError naming
    the location for a missing file, a directory, a permission problem, an HTTP error, an S3
    error or an unsupported scheme.
    """
    match = _SCHEME.match(location)
    scheme = match.group(1).lower() if match else ""
    if scheme in ("http", "https"):
        return _fetch_http(location)
    if scheme == "s3":
        return _fetch_s3(location, s3_client)
    if scheme == "file":
        parsed = urlparse(location)
        if parsed.netloc not in ("", "localhost"):
            raise SourceError(f"{location}: file:// URLs must name a local file (file:///path)")
        return _read_file(Path(url2pathname(unquote(parsed.path))))
    if scheme:
        raise SourceError(
            f"{location}: unsupported URL scheme '{scheme}://'; supported are local paths and "
            f"{', '.join(s + '://' for s in SCHEMES)}"
        )
    return _read_file(Path(location))


def _read_file(file: Path) -> bytes:
    if not file.exists():
        raise SourceError(f"source file not found: {file}")
    if file.is_dir():
        raise SourceError(f"source path {file} is a directory; source.path must name a file")
    try:
        return file.read_bytes()
    except PermissionError:
        raise SourceError(
            f"source file {file} cannot be read: permission denied (check its owner and mode)"
        ) from None
    except OSError as exc:
        raise SourceError(f"source file {file} cannot be read: {exc.strerror or exc}") from exc


def _fetch_http(url: str) -> bytes:
    import requests

    try:
        response = requests.get(url, timeout=60)
    except requests.RequestException as exc:
        raise SourceError(f"could not fetch {url}: {exc}") from exc
    if response.status_code != 200:
        raise SourceError(f"could not fetch {url}: HTTP {response.status_code} {response.reason}")
    return response.content


def _fetch_s3(url: str, s3_client: Callable[[], object] | None) -> bytes:
    bucket, _, key = url[5:].partition("/")
    if not bucket or not key:
        raise SourceError(f"{url}: an S3 location needs a bucket and a key (s3://bucket/key)")
    if s3_client is None:
        raise SourceError(f"{url}: no S3 resource is configured to read it")
    try:
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # noqa: BLE001 - botocore raises many types; all mean "unreadable"
        raise SourceError(f"could not read {url}: {exc}") from exc


def read_sql(source: SourceSpec) -> pd.DataFrame:
    """Run the spec's query (or `SELECT * FROM <table>`); raises SourceError (password hidden)."""
    import sqlalchemy

    url = os.path.expandvars(source.sql_url or "")
    query = source.query or ""
    statement = query if " " in query.strip() else f"SELECT * FROM {query}"
    try:
        engine = sqlalchemy.create_engine(url)
        with engine.connect() as conn:
            return pd.read_sql_query(sqlalchemy.text(statement), conn)
    except Exception as exc:  # noqa: BLE001 - drivers raise their own types
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SourceError(
            f"SQL source {redact(url)} failed for query '{statement}': {reason}"
        ) from exc


def redact(url: str) -> str:
    """A SQLAlchemy URL with its password hidden, for logs and metadata."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(os.path.expandvars(url)).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is reported by the loader itself
        return "<unparseable url>"
