"""Parse a churn table from the bytes (or frame) a resource hands over, with errors to act on.

No I/O here: `churn_assets.resources.sources` fetches the bytes (file, file://, http(s), S3) and
runs SQL. This module sniffs what the bytes are (gzip, zip/xlsx, Parquet, text) by magic bytes,
parses them with the spec's CSV options, and refuses a table whose header would change a column
silently (duplicate names, values under an empty name). Every failure raises `SourceError` naming
the source; pandas errors are kept as the cause, never left as the only message.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import warnings
import zipfile
import zlib

import pandas as pd

from churn_assets.ml.source_tables import (
    NUL_MARK,
    SPLIT_COLUMN,
    SourceError,
    check_columns,
    combine_split,
    require_rows,
)
from churn_assets.ml.spec import SourceSpec

__all__ = [
    "NUL_MARK",
    "SPLIT_COLUMN",
    "SourceError",
    "check_columns",
    "combine_split",
    "file_format",
    "parse_table",
    "read_bytes",
    "require_rows",
    "sniff",
]

_MAGIC = [
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"PAR1", "parquet"),
    (b"\xd0\xcf\x11\xe0", "xls"),
]


def sniff(payload: bytes) -> str | None:
    """The container type of `payload` by its magic bytes ('gzip', 'zip', 'parquet', 'xls')."""
    return next((kind for magic, kind in _MAGIC if payload.startswith(magic)), None)


def file_format(path: str, declared: str = "auto") -> str:
    """'parquet' or 'csv' from the declared format, else from the file name."""
    if declared != "auto":
        return declared
    lowered = path.lower().split("?")[0]
    return "parquet" if lowered.endswith((".parquet", ".pq")) else "csv"


def parse_table(
    payload: bytes,
    where: str,
    source: SourceSpec,
    fmt: str = "auto",
    text_columns: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Parse one file's bytes into a DataFrame with stripped, unique column names.

    `text_columns` (the id) are read as text, so '007' stays '007' and never equals '7'.

    Gzip is decompressed, a zip holding one CSV is read, Parquet is read whatever the file is
    called; an Excel workbook or other archive raises SourceError saying what it is. Raises
    SourceError for empty, undecodable or malformed text and for ambiguous headers.
    """
    kind = sniff(payload)
    if kind == "gzip":
        payload, where = _gunzip(payload, where), f"{where} (gzip)"
        kind = sniff(payload)
    if kind == "zip":
        payload, where = _unzip(payload, where)
        kind = sniff(payload)
    if kind == "xls":
        raise SourceError(
            f"{where} is a legacy Excel workbook (.xls), not CSV; save the sheet as CSV "
            "(UTF-8) and point source.path at that file"
        )
    if kind == "parquet" or (fmt == "parquet" and kind is None and payload.strip()):
        return check_columns(_read_parquet(payload, where), where)
    if not payload.strip():
        raise SourceError(f"{where} is empty: no header and no rows")
    text = _decode(payload, where, source.encoding).replace("\x00", NUL_MARK)
    frame = _read_csv(text, where, source, text_columns)
    return check_columns(frame, where, header=_header_names(text, source))


def _gunzip(payload: bytes, where: str) -> bytes:
    try:
        return gzip.decompress(payload)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"{where} is a damaged or truncated gzip file: {exc}") from exc


def _unzip(payload: bytes, where: str) -> tuple[bytes, str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        names = [n for n in archive.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{where} is a damaged zip file: {exc}") from exc
    if any(n.startswith("xl/") for n in names):
        raise SourceError(
            f"{where} is an Excel workbook (.xlsx), not CSV; save the sheet as CSV (UTF-8) "
            "and point source.path at that file"
        )
    tables = [n for n in names if n.lower().endswith((".csv", ".txt", ".parquet", ".gz"))]
    if len(tables) != 1:
        raise SourceError(
            f"{where} is a zip archive with {len(names)} files {names[:5]}; it must hold exactly "
            "one CSV to be read, or point source.path at the extracted file"
        )
    return archive.read(tables[0]), f"{where}!{tables[0]}"


def _read_parquet(payload: bytes, where: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(io.BytesIO(payload))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types; all mean "unreadable"
        raise SourceError(f"{where} is not a readable Parquet file: {exc}") from exc


def _decode(payload: bytes, where: str, encoding: str) -> str:
    # A byte-order mark is not part of the first column's name.
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        return payload.decode(codec)
    except UnicodeDecodeError as exc:
        line = payload[: exc.start].count(b"\n") + 1
        head = payload[:4096]
        controls = sum(b < 9 or 13 < b < 32 for b in head)
        if controls > len(head) // 20:  # text files have almost no control bytes
            raise SourceError(
                f"{where} is binary data, not a text table (byte 0x{payload[exc.start]:02x} at "
                f"offset {exc.start}); give a CSV, gzip CSV or Parquet file"
            ) from None
        raise SourceError(
            f"{where} is not valid {encoding}: byte 0x{payload[exc.start]:02x} at offset "
            f"{exc.start} (line {line}); set source.encoding (e.g. 'latin-1') in the dataset spec"
        ) from None


def _read_csv(
    text: str, where: str, source: SourceSpec, text_columns: tuple[str, ...]
) -> pd.DataFrame:
    options = {
        "dtype": dict.fromkeys(text_columns, str),
        "sep": source.delimiter,
        "thousands": source.thousands,
        "decimal": source.decimal,
        # A trailing delimiter on every row must not shift the columns under the header.
        "index_col": False,
        "skipinitialspace": True,  # blank or whitespace-only cells are missing values
    }
    if source.delimiter_is_regex:
        options["engine"] = "python"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), **options)
    except pd.errors.ParserError as exc:
        raise SourceError(f"{where} is not a well-formed CSV: {exc}") from exc
    except pd.errors.EmptyDataError:
        raise SourceError(f"{where} is empty: no header and no rows") from None
    except re.error as exc:
        raise SourceError(f"{where}: source.delimiter is not a valid regex: {exc}") from exc
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        _refuse_values_beyond_header(text, where, source)
    return frame


def _refuse_values_beyond_header(text: str, where: str, source: SourceSpec) -> None:
    # pandas drops fields beyond the header with only a warning; empty ones (a trailing
    # delimiter on each row) carry nothing, but a value there would be lost silently.
    rows = (
        (re.split(source.delimiter, line) for line in text.splitlines())
        if source.delimiter_is_regex
        else csv.reader(io.StringIO(text), delimiter=source.delimiter)
    )
    width = None
    for line, fields in enumerate(rows, start=1):
        if width is None:
            width = len(fields) if any(f.strip() for f in fields) else None
            continue
        extra = [f for f in fields[width:] if f.strip()]
        if extra:
            raise SourceError(
                f"{where} line {line} has {len(fields)} fields but the header has {width} "
                f"(value '{extra[0]}' beyond the last column); fix that row or name the column "
                "in the header"
            )


def _header_names(text: str, source: SourceSpec) -> list[str]:
    first = next((line for line in text.splitlines() if line.strip()), "")
    if source.delimiter_is_regex:
        return re.split(source.delimiter, first)
    return next(csv.reader([first], delimiter=source.delimiter), [])


def read_bytes(
    payload: bytes, where: str, fmt: str, source: SourceSpec, text_columns: tuple[str, ...] = ()
) -> pd.DataFrame:
    """One file's bytes as a table with rows: `parse_table`, then `require_rows`."""
    frame = parse_table(payload, where, source, fmt, text_columns)
    require_rows(frame, where)
    return frame
