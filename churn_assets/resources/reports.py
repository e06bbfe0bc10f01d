"""Where human-readable reports (the standalone drift HTML) are written: a folder or S3.

One implementation on a root `UPath` (see `storage.py`); the two classes only say where it is.
"""

import mimetypes

from dagster import ConfigurableResource, ResourceDependency
from dagster_aws.s3 import S3Resource
from upath import UPath

from churn_assets.resources.storage import local_path, s3_path, write_atomic


class ReportStore(ConfigurableResource):
    def _root(self) -> UPath:
        raise NotImplementedError

    def write(self, name: str, payload: bytes) -> str:
        """Store the bytes under `name` atomically; return where a person can open them (a local
        path, or s3://... served with the content type of its suffix)."""
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return write_atomic(self._root() / name, payload, ContentType=content_type)


class LocalReports(ReportStore):
    folder: str

    def _root(self) -> UPath:
        return local_path(self.folder)


class S3Reports(ReportStore):
    s3: ResourceDependency[S3Resource]
    bucket: str
    prefix: str = "reports"

    def _root(self) -> UPath:
        return s3_path(self.s3, self.bucket, self.prefix)
