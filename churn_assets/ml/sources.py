"""Load a churn table from the source a dataset spec names, with errors a person can act on.

Every failure raises `SourceError` with the file, URL or query in the message; pandas and driver
errors are kept as the cause (`raise ... from exc`) but never left as the only message.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd

from churn_assets.ml.spec import DatasetSpec
from churn_assets.ml.synthetic import generate_synthetic

SPLIT_COLUMN = "_source_split"


class SourceError(ValueError):
    """The source could not be read as a table."""


def describe_source(spec: DatasetSpec) -> str:
    """A one-line description of where the rows come from, for metadata and messages."""
    src = spec.source
    if src.kind == "synthetic":
        s = src.synthetic
        return f"synthetic(n_rows={s.n_rows}, seed={s.seed}, drift={s.drift})"
    if src.kind == "sql":
        return f"sql({_redact(src.sql_url or '')}): {src.query}"
    return str(src.path)


def _redact(url: str) -> str:
    # Never echo a password from a SQLAlchemy URL into logs or metadata.
    from sqlalchemy.engine import make_url

    try:
        return make_url(os.path.expandvars(url)).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is reported by the loader itself
        return "<unparseable url>"


def file_format(path: str, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    lowered = path.lower().split("?")[0]
    return "parquet" if lowered.endswith((".parquet", ".pq")) else "csv"


def read_bytes(payload: bytes, where: str, fmt: str, encoding: str, delimiter: str) -> pd.DataFrame:
    if not payload.strip():
        raise SourceError(f"{where} is empty: no header and no rows")
    if fmt == "parquet":
        try:
            return pd.read_parquet(io.BytesIO(payload))
        except Exception as exc:
            raise SourceError(f"{where} is not a readable Parquet file: {exc}") from exc
    try:
        text = payload.decode(encoding)
    except UnicodeDecodeError as exc:
        line = payload[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"{where} is not valid {encoding}: byte 0x{payload[exc.start]:02x} at offset "
            f"{exc.start} (line {line}); set source.encoding (e.g. 'latin-1') in the dataset spec"
        ) from None
    try:
        # Blank or whitespace-only cells are missing values, whatever the column type.
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise SourceError(f"{where} is not a well-formed CSV: {exc}") from exc
    except pd.errors.EmptyDataError:
        raise SourceError(f"{where} is empty: no header and no rows") from None
    return frame


def _read_location(path: str, spec: DatasetSpec) -> pd.DataFrame:
    src = spec.source
    fmt = file_format(path, src.format)
    if path.startswith(("http://", "https://")):
        import requests

        try:
            response = requests.get(path, timeout=60)
        except requests.RequestException as exc:
            raise SourceError(f"could not fetch {path}: {exc}") from exc
        if response.status_code != 200:
            raise SourceError(
                f"could not fetch {path}: HTTP {response.status_code} {response.reason}"
            )
        payload = response.content
    elif path.startswith("s3://"):
        import boto3

        bucket, _, key = path[5:].partition("/")
        client = boto3.client("s3", endpoint_url=os.environ.get("CHURN_S3_ENDPOINT_URL") or None)
        try:
            payload = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise SourceError(f"could not read {path}: {exc}") from exc
    else:
        file = Path(path)
        if not file.exists():
            raise SourceError(f"source file not found: {file}")
        payload = file.read_bytes()
    return read_bytes(payload, path, fmt, src.encoding, src.delimiter)


def _read_sql(spec: DatasetSpec) -> pd.DataFrame:
    import sqlalchemy

    src = spec.source
    url = os.path.expandvars(src.sql_url or "")
    query = src.query or ""
    statement = query if " " in query.strip() else f"SELECT * FROM {query}"
    try:
        engine = sqlalchemy.create_engine(url)
        with engine.connect() as conn:
            return pd.read_sql_query(sqlalchemy.text(statement), conn)
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SourceError(
            f"SQL source {_redact(url)} failed for query '{statement}': {reason}"
        ) from exc


def load_table(spec: DatasetSpec) -> pd.DataFrame:
    """Read the rows the spec names, unchanged but for parsing.

    Returns a DataFrame; when the spec names a separate test file, its rows are appended and the
    column `_source_split` says which file each row came from. Raises SourceError for a missing,
    empty, header-only, undecodable or unreachable source, naming it.
    """
    src = spec.source
    where = describe_source(spec)
    if src.kind == "synthetic":
        s = src.synthetic
        frame = generate_synthetic(
            s.n_rows, seed=s.seed, churn_rate=s.churn_rate, fault_rate=s.fault_rate, drift=s.drift
        )
    elif src.kind == "sql":
        frame = _read_sql(spec)
    else:
        frame = _read_location(src.path or "", spec)
    if spec.split.test_path:
        test = _read_location(spec.split.test_path, spec)
        _require_rows(test, spec.split.test_path)
        frame = pd.concat(
            [frame.assign(**{SPLIT_COLUMN: "train"}), test.assign(**{SPLIT_COLUMN: "test"})],
            ignore_index=True,
        )
    _require_rows(frame, where)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _require_rows(frame: pd.DataFrame, where: str) -> None:
    if frame.empty:
        raise SourceError(
            f"{where} has a header ({len(frame.columns)} columns) but no rows"
            if len(frame.columns)
            else f"{where} is empty: no header and no rows"
        )
