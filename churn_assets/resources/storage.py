"""One path abstraction for the local and the S3 deployments: a universal-pathlib `UPath`.

The IO manager, the landing location and the report store all work on a root `UPath` (a local
folder, or s3://bucket/prefix through the `S3Resource`), so each has one implementation and the
deployments differ only in configuration. Writes are atomic in both: locally a temporary name
beside the target then `os.replace`; on S3 one PUT, which replaces an object whole.
"""

import os
import tempfile
from pathlib import Path

import fsspec
from dagster_aws.s3 import S3Resource
from upath import UPath
from upath.registry import register_implementation

from churn_assets.resources.s3_files import PROTOCOL, S3ResourceFileSystem, S3ResourcePath


def local_path(folder: str) -> UPath:
    """The root for a local folder (made absolute, so recorded URIs do not depend on the cwd)."""
    return UPath(Path(folder).resolve())


def s3_path(resource: S3Resource, bucket: str, prefix: str = "") -> UPath:
    """The root s3://bucket/prefix, read and written with `resource`'s client and settings."""
    # Registry entries for our own protocol name (path parsing follows the filesystem class);
    # "s3" (s3fs) stays as it was.
    fsspec.register_implementation(PROTOCOL, S3ResourceFileSystem, clobber=True)
    register_implementation(PROTOCOL, S3ResourcePath, clobber=True)
    key = prefix.strip("/")
    return UPath(
        f"{PROTOCOL}://{bucket}/{key}" if key else f"{PROTOCOL}://{bucket}/", resource=resource
    )


def is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


def uri(path: UPath) -> str:
    """Where a person (or boto3, pandas, the AWS CLI) finds the object: a path or s3://..."""
    return str(path) if is_local(path) else f"s3://{path.path}"


def write_atomic(path: UPath, payload: bytes, **put_options) -> str:
    """Store `payload` at `path` so readers see the old bytes or the new, never a part; returns
    its URI. `put_options` (e.g. ContentType) apply to object stores. Raises OSError naming the
    path when the write fails; the previous content is then unchanged."""
    if not is_local(path):
        path.fs.pipe_file(path.path, payload, **put_options)
        return uri(path)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return uri(path)
