"""S3 as an fsspec filesystem on the boto3 client of dagster-aws's `S3Resource`.

universal-pathlib reaches S3 through fsspec; the usual backend, s3fs, needs aiobotocore, which
pins an older botocore than the one installed here (it would downgrade it), and it would build its
own client besides the resource's. This small filesystem keeps one client, with the endpoint,
credentials, region and retries of `S3Resource`. It does what the storage resources need: list,
stat (with the ETag), read an object whole, write an object with one PUT (atomic on S3), delete.
S3 has no directories: `mkdir` writes nothing, and a prefix with objects under it is a directory.
"""

import io

from botocore.exceptions import ClientError
from dagster_aws.s3 import S3Resource
from fsspec import AbstractFileSystem
from upath.implementations.cloud import CloudPath

PROTOCOL = "s3resource"  # private: registered for the paths `s3_path` builds, never for "s3"
_MISSING = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}


def _missing(err: ClientError) -> bool:
    return str(err.response.get("Error", {}).get("Code")) in _MISSING


class S3ResourceFileSystem(AbstractFileSystem):
    """fsspec filesystem over `S3Resource.get_client()`; paths are "bucket/key"."""

    protocol = (PROTOCOL,)
    root_marker = ""

    def __init__(self, resource: S3Resource, **kwargs):
        super().__init__(**kwargs)
        self.client = resource.get_client()

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        bucket, _, key = S3ResourceFileSystem._strip_protocol(path).partition("/")
        return bucket, key

    def info(self, path, **kwargs):
        bucket, key = self._split(path)
        try:
            head = self.client.head_object(Bucket=bucket, Key=key)
            return {
                "name": f"{bucket}/{key}",
                "type": "file",
                "size": head["ContentLength"],
                "ETag": head["ETag"],
                "LastModified": head["LastModified"],
            }
        except ClientError as err:
            if not _missing(err):
                raise
        if self.ls(path, detail=False, missing_ok=True):
            return {"name": f"{bucket}/{key}".rstrip("/"), "type": "directory", "size": 0}
        raise FileNotFoundError(f"s3://{bucket}/{key}")

    def exists(self, path, **kwargs):
        # fsspec's default hides every error as "missing"; only a missing object is missing.
        try:
            self.info(path)
        except FileNotFoundError:
            return False
        return True

    def ls(self, path, detail=True, missing_ok=False, **kwargs):
        bucket, key = self._split(path)
        prefix = f"{key.rstrip('/')}/" if key else ""
        found = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"] != prefix:
                    name, size = f"{bucket}/{item['Key']}", item["Size"]
                    found.append({"name": name, "type": "file", "size": size, "ETag": item["ETag"]})
            for common in page.get("CommonPrefixes", []):
                name = f"{bucket}/{common['Prefix'].rstrip('/')}"
                found.append({"name": name, "type": "directory", "size": 0})
        if not found and not missing_ok:
            raise FileNotFoundError(f"s3://{bucket}/{prefix}")
        return found if detail else [entry["name"] for entry in found]

    def cat_file(self, path, start=None, end=None, **kwargs):
        bucket, key = self._split(path)
        try:
            payload = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as err:
            if _missing(err):
                raise FileNotFoundError(f"s3://{bucket}/{key}") from err
            raise
        return payload[start:end]

    def pipe_file(self, path, value, mode="overwrite", **put_options):
        """One PUT of the whole payload; `put_options` (e.g. ContentType) go to put_object."""
        bucket, key = self._split(path)
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=value, **put_options)
        except ClientError as err:
            # botocore's message ("The specified bucket does not exist") names no bucket or key.
            raise OSError(
                f"could not write s3://{bucket}/{key}: {err}; check that bucket '{bucket}' "
                "exists and is writable with the S3 resource's credentials and endpoint"
            ) from err

    def rm_file(self, path):
        bucket, key = self._split(path)
        self.client.delete_object(Bucket=bucket, Key=key)

    def mkdir(self, path, create_parents=True, **kwargs):
        """Nothing to create: a prefix exists once an object is written under it."""

    def makedirs(self, path, exist_ok=False):
        """Nothing to create, as for `mkdir`."""

    def _open(self, path, mode="rb", **kwargs):
        if "r" in mode:
            return io.BytesIO(self.cat_file(path))
        options = {k: v for k, v in kwargs.items() if k[:1].isupper()}  # boto3's own names
        return _PutOnClose(lambda payload: self.pipe_file(path, payload, **options))


class _PutOnClose(io.BytesIO):
    """Collects the bytes and PUTs them once on a clean close; an error inside `with` PUTs
    nothing, so a half-written object never replaces the previous one."""

    def __init__(self, put):
        super().__init__()
        self._put, self._failed = put, False

    def __exit__(self, exc_type, *rest):
        self._failed = exc_type is not None
        return super().__exit__(exc_type, *rest)

    def close(self):
        try:
            if not self.closed and not self._failed:
                self._put(self.getvalue())
        finally:
            super().close()


class S3ResourcePath(CloudPath):
    """A UPath whose filesystem is `S3ResourceFileSystem` (storage option `resource`)."""

    __slots__ = ()

    @classmethod
    def _fs_factory(cls, urlpath, protocol, storage_options):
        return S3ResourceFileSystem(**storage_options)
