"""Parquet IO managers: one on a local folder, one on S3, the same format and metadata in both.

Every DataFrame output is written atomically (a temporary name then `os.replace` locally; a single
PUT on S3, which is atomic per object) and recorded with `dagster/row_count`,
`dagster/column_schema` and a content hash (`data_version`) so a UI reader sees what was stored.
JSON-able dicts are stored as JSON beside them. Nothing is pickled.
"""

import hashlib
import io
import json
import os
import tempfile
from abc import abstractmethod
from pathlib import Path
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError
from dagster import (
    ConfigurableIOManager,
    InputContext,
    MetadataValue,
    OutputContext,
    ResourceDependency,
    TableColumn,
    TableSchema,
)
from dagster_aws.s3 import S3Resource


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def content_hash(frame: pd.DataFrame) -> str:
    """The data version of a frame: sha256 of its Parquet bytes (16 hex digits).

    Hashing the bytes the IO manager writes anyway costs ~15 ms per 1M rows, against ~5 s for
    pandas' row-wise hash of text columns. Equal frames (values, dtypes, names, attrs) give equal
    bytes for a given pyarrow version, so a pyarrow upgrade may change versions once.
    """
    return _hash(parquet_bytes(frame))


def _hash(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:16]


def table_schema(frame: pd.DataFrame) -> TableSchema:
    return TableSchema(columns=[TableColumn(str(c), str(t)) for c, t in frame.dtypes.items()])


def _serialize(obj: Any) -> tuple[bytes, str, dict[str, Any]]:
    if isinstance(obj, pd.DataFrame):
        payload = parquet_bytes(obj)
        metadata = {
            "dagster/row_count": MetadataValue.int(len(obj)),
            "dagster/column_schema": MetadataValue.table_schema(table_schema(obj)),
            "data_version": MetadataValue.text(_hash(payload)),
        }
        return payload, "parquet", metadata
    if isinstance(obj, dict):
        payload = json.dumps(obj, sort_keys=True, default=str).encode()
        return payload, "json", {"data_version": _hash(payload)}
    raise TypeError(
        f"the Parquet IO manager stores DataFrames and JSON dicts, not {type(obj).__name__}"
    )


def _deserialize(payload: bytes, suffix: str) -> Any:
    if suffix == "parquet":
        return pd.read_parquet(io.BytesIO(payload))
    return json.loads(payload)


class _ParquetIOManagerBase(ConfigurableIOManager):
    def _relative(self, context: OutputContext | InputContext) -> str:
        if isinstance(context, OutputContext) and not context.has_asset_key:
            # An op output of a plain job (promote_model's outcome): kept per run, as a record.
            return f"op_outputs/{context.run_id}/{context.step_key}/{context.name}"
        parts = list(context.asset_key.path)
        if context.has_asset_partitions:
            parts.append(context.asset_partition_key)
        return "/".join(parts)

    @abstractmethod
    def _write(self, relative: str, payload: bytes) -> str:
        """Store the bytes; return the URI they are at."""

    @abstractmethod
    def _read(self, relative: str) -> bytes: ...

    @abstractmethod
    def _exists(self, relative: str) -> bool: ...

    @abstractmethod
    def _delete(self, relative: str) -> None: ...

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            raise TypeError(f"asset {context.asset_key.to_user_string()} returned None")
        payload, suffix, metadata = _serialize(obj)
        relative = self._relative(context)
        uri = self._write(f"{relative}.{suffix}", payload)
        # An asset that changed type (a DataFrame, now a dict) must not leave its old value to be
        # loaded instead of the new one.
        for other in {"parquet", "json"} - {suffix}:
            if self._exists(f"{relative}.{other}"):
                self._delete(f"{relative}.{other}")
        metadata["uri"] = MetadataValue.path(uri)
        metadata["size_bytes"] = MetadataValue.int(len(payload))
        context.add_output_metadata(metadata)

    def load_input(self, context: InputContext) -> Any:
        relative = self._relative(context)
        for suffix in ("parquet", "json"):
            if self._exists(f"{relative}.{suffix}"):
                return _deserialize(self._read(f"{relative}.{suffix}"), suffix)
        raise FileNotFoundError(
            f"no stored value for {context.asset_key.to_user_string()} at {relative}.parquet or "
            ".json; materialize it first"
        )


class LocalParquetIOManager(_ParquetIOManagerBase):
    """Parquet files under a local folder (the embedded default deployment)."""

    base_dir: str

    def _path(self, relative: str) -> Path:
        return Path(self.base_dir) / relative

    def _write(self, relative: str, payload: bytes) -> str:
        target = self._path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target, then rename: readers never see a half-written file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(target.resolve())

    def _read(self, relative: str) -> bytes:
        return self._path(relative).read_bytes()

    def _exists(self, relative: str) -> bool:
        return self._path(relative).exists()

    def _delete(self, relative: str) -> None:
        self._path(relative).unlink(missing_ok=True)


class S3ParquetIOManager(_ParquetIOManagerBase):
    """Parquet objects under s3://bucket/prefix (the production deployment)."""

    s3: ResourceDependency[S3Resource]
    bucket: str
    prefix: str = "churn-assets"

    def _key(self, relative: str) -> str:
        return f"{self.prefix.strip('/')}/{relative}" if self.prefix else relative

    def _write(self, relative: str, payload: bytes) -> str:
        key = self._key(relative)
        try:
            self.s3.get_client().put_object(Bucket=self.bucket, Key=key, Body=payload)
        except ClientError as err:
            # botocore's message ("The specified bucket does not exist") names no bucket or key.
            raise OSError(
                f"could not write s3://{self.bucket}/{key}: {err}; check that bucket "
                f"'{self.bucket}' exists and is writable (CHURN_S3_BUCKET, CHURN_S3_ENDPOINT_URL)"
            ) from err
        return f"s3://{self.bucket}/{key}"

    def _read(self, relative: str) -> bytes:
        body = self.s3.get_client().get_object(Bucket=self.bucket, Key=self._key(relative))
        return body["Body"].read()

    def _exists(self, relative: str) -> bool:
        client = self.s3.get_client()
        found = client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(relative), MaxKeys=1)
        return any(item["Key"] == self._key(relative) for item in found.get("Contents", []))

    def _delete(self, relative: str) -> None:
        self.s3.get_client().delete_object(Bucket=self.bucket, Key=self._key(relative))
