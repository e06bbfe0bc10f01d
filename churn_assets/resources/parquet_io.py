"""Parquet IO manager on Dagster's `UPathIOManager`: one implementation, a local folder or S3.

Every DataFrame output is written atomically (see `storage.write_atomic`) and recorded with
`dagster/row_count`, `dagster/column_schema` and a content hash (`data_version`) so a UI reader
sees what was stored. JSON-able dicts are stored as JSON beside them. Nothing is pickled.
`UPathIOManager` lays out the paths: `<root>/<asset key>[/<partition>]`, op outputs under
`op_outputs/<run>/<step>/<output>`; the suffix (.parquet or .json) follows the value's type.
A table is still written when the next step runs in the same process, but that step may get the
stored frame itself instead of decoding the file (`handoff.py` says when).
"""

import hashlib
import io
import json
import weakref
from functools import partial
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError
from dagster import (
    ConfigurableIOManager,
    DagsterInvariantViolationError,
    InitResourceContext,
    InputContext,
    MetadataValue,
    OutputContext,
    ResourceDependency,
    TableColumn,
    TableSchema,
    UPathIOManager,
)
from dagster_aws.s3 import S3Resource
from upath import UPath

from churn_assets.ml.validation_types import TEXT
from churn_assets.resources import handoff
from churn_assets.resources.memory import release_arrow_pool
from churn_assets.resources.storage import is_local, local_path, s3_path, uri, write_atomic

SUFFIXES = ("parquet", "json")
# Input metadata (`AssetIn(metadata={SCHEMA_ONLY: True})`): load a stored table as an empty frame
# with its columns and dtypes, for a step that reads only the column types.
SCHEMA_ONLY = "schema_only"
# Input metadata (`AssetIn(metadata={ARROW_TEXT: True})`): text columns load as Arrow-backed
# strings (`TEXT`) instead of a Python object per cell; for the data assets, whose steps take
# both. Inputs without it load text as object columns of str/None, as models were trained on.
ARROW_TEXT = "arrow_text"


# numpy dtype kinds whose columns keep Parquet statistics (min, max, null count per column
# chunk): bool, integers, floats, complex, times. Text (object, str, category) writes none: its
# min/max compares every string, about a quarter of a text-heavy 1M-row table's encoding, and
# nothing here reads them (every load takes the whole table, one row group per million rows).
_STATISTICS_KINDS = "biufcmM"


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The Parquet file of `frame` without its index, as bytes (pyarrow's defaults: snappy,
    dictionary pages; statistics for non-text columns only)."""
    buffer = io.BytesIO()
    stats = [str(c) for c, dtype in frame.dtypes.items() if dtype.kind in _STATISTICS_KINDS]
    frame.to_parquet(buffer, index=False, write_statistics=stats)
    return buffer.getvalue()


# Parquet bytes encoded for a frame's data version, kept until the IO manager stores that same
# frame object, so a 1M-row table is encoded once per materialization instead of twice. Keyed by
# id with a weak reference (an id can be reused after the frame is gone); an entry is taken once.
_ENCODED: dict[int, tuple[weakref.ref, bytes]] = {}


def versioned_bytes(frame: pd.DataFrame) -> tuple[str, bytes]:
    """(content hash, Parquet bytes) of `frame`; the bytes are kept for `dump_to_path` of the
    same frame object (the Output it becomes), and dropped when the frame is."""
    payload = parquet_bytes(frame)
    key = id(frame)
    _ENCODED[key] = (weakref.ref(frame), payload)
    weakref.finalize(frame, _ENCODED.pop, key, None)
    return _hash(payload), payload


def _encoded(frame: pd.DataFrame) -> bytes:
    """The bytes `versioned_bytes` kept for this very frame object, else a fresh encoding."""
    kept = _ENCODED.pop(id(frame), None)
    if kept is not None and kept[0]() is frame:
        return kept[1]
    return parquet_bytes(frame)


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
        payload = _encoded(obj)
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


def _arrow_text_frame(payload: bytes) -> pd.DataFrame:
    mapping = {pa.string(): TEXT, pa.large_string(): TEXT}
    # ParquetFile.read, not read_table: one file needs no dataset layer (nor its import).
    return pq.ParquetFile(pa.BufferReader(payload)).read().to_pandas(types_mapper=mapping.get)


def _step_of(context: OutputContext) -> str:
    """The run and step that stored an output; a context built by hand (tests) has no step."""
    try:
        return f"{context.run_id}/{context.step_key}"
    except DagsterInvariantViolationError:
        return f"{context.run_id}/{context.asset_key.to_user_string()}"


def _suffixed(path: UPath, suffix: str) -> UPath:
    return path.with_name(f"{path.name}.{suffix}")


class ParquetUPathIOManager(UPathIOManager):
    """DataFrames as Parquet and dicts as JSON under a root `UPath` (local or S3)."""

    extension = None  # chosen per value: .parquet or .json

    def __init__(self, base_path: UPath):
        super().__init__(base_path=base_path)
        self._written: dict[int, dict[str, Any]] = {}  # output context id -> its metadata

    def get_op_output_relative_path(self, context: InputContext | OutputContext) -> UPath:
        # An op output of a plain job (promote_model's outcome): kept per run, as a record.
        return UPath("op_outputs", *context.get_identifier())

    def make_directory(self, path: UPath) -> None:
        if is_local(path):  # object stores have no directories to make
            path.mkdir(parents=True, exist_ok=True)

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        payload, suffix, metadata = _serialize(obj)
        release_arrow_pool()  # the encoding's buffers, freed into Arrow's pool
        target = _suffixed(path, suffix)
        location = write_atomic(target, payload)
        if isinstance(obj, pd.DataFrame) and context.has_asset_key:  # for the next step here
            handoff.keep(_step_of(context), str(target), metadata["data_version"].value, obj)
        # An asset that changed type (a DataFrame, now a dict) must not leave its old value to be
        # loaded instead of the new one.
        for other in set(SUFFIXES) - {suffix}:
            stale = _suffixed(path, other)
            if stale.exists():
                stale.unlink()
        metadata["path"] = metadata["uri"] = MetadataValue.path(location)
        metadata["size_bytes"] = MetadataValue.int(len(payload))
        self._written[id(context)] = metadata

    def get_metadata(self, context: OutputContext, obj: Any) -> dict[str, Any]:
        return self._written.pop(id(context), {})

    def load_from_path(self, context: InputContext, path: UPath) -> Any:
        for suffix in SUFFIXES:
            candidate = _suffixed(path, suffix)
            if candidate.exists():
                if suffix == "parquet" and (context.definition_metadata or {}).get(SCHEMA_ONLY):
                    with candidate.open("rb") as handle:  # the footer only, no row decoded
                        return pq.read_schema(handle).empty_table().to_pandas()
                payload = candidate.read_bytes()
                arrow_text = bool((context.definition_metadata or {}).get(ARROW_TEXT))
                if suffix == "parquet":
                    kept = handoff.take(str(candidate), arrow_text, partial(_hash, payload))
                    if kept is not None:
                        return kept
                if suffix == "parquet" and arrow_text:
                    value = _arrow_text_frame(payload)
                else:
                    value = _deserialize(payload, suffix)
                # Decoding left Arrow's pool holding pages nothing else reuses (0.8 GiB for the
                # 5M-row features table); give them back before the step allocates its own.
                release_arrow_pool()
                return value
        name = context.asset_key.to_user_string() if context.has_asset_key else context.name
        raise FileNotFoundError(
            f"no stored value for {name} at {uri(path)}.parquet or .json; materialize it first"
        )


class _ParquetIOManagerBase(ConfigurableIOManager):
    """The configuration side: each deployment only says where the root is."""

    def _root(self) -> UPath:
        raise NotImplementedError

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            raise TypeError(f"asset {context.asset_key.to_user_string()} returned None")
        ParquetUPathIOManager(self._root()).handle_output(context, obj)

    def load_input(self, context: InputContext) -> Any:
        return ParquetUPathIOManager(self._root()).load_input(context)


class LocalParquetIOManager(_ParquetIOManagerBase):
    """Parquet files under a local folder (the embedded default deployment)."""

    base_dir: str

    def _root(self) -> UPath:
        return local_path(self.base_dir)


class S3ParquetIOManager(_ParquetIOManagerBase):
    """Parquet objects under s3://bucket/prefix (the production deployment)."""

    s3: ResourceDependency[S3Resource]
    bucket: str
    prefix: str = "churn-assets"

    def _root(self) -> UPath:
        return s3_path(self.s3, self.bucket, self.prefix)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Fail fast when a step starts, before its work, if the bucket cannot be reached (one
        HEAD request, retried by the S3 resource's own attempts). Raises OSError naming it."""
        try:
            self.s3.get_client().head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as err:
            raise OSError(
                f"S3 bucket '{self.bucket}' (root {uri(self._root())}) is not reachable: {err}; "
                "check the bucket name, the S3 endpoint and the credentials"
            ) from err
