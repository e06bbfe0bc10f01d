"""The landing location where incoming customer batches arrive: a local folder or an S3 prefix.

One implementation on a root `UPath` (see `storage.py`); the two classes only say where it is.
"""

from dagster import ConfigurableResource, ResourceDependency
from dagster_aws.s3 import S3Resource
from upath import UPath

from churn_assets.resources.storage import local_path, s3_path, uri

BATCH_SUFFIXES = (".csv", ".parquet")


def version_stamp(path: UPath) -> str:
    """What changes when a file is rewritten: the S3 ETag, or size and mtime of a local file."""
    stat = path.stat()
    etag = stat.as_info().get("ETag") if hasattr(stat, "as_info") else None
    return etag.strip('"') if etag else f"{stat.st_size}-{stat.st_mtime_ns}"


class LandingResource(ConfigurableResource):
    """Lists batch files with a version stamp and reads their bytes."""

    def _root(self) -> UPath:
        raise NotImplementedError

    def list_batches(self) -> dict[str, str]:
        """File name -> version stamp. Hidden files (being written by a client, by convention)
        and files that are not CSV or Parquet are left out; a missing location is empty."""
        root = self._root()
        if not root.exists():
            return {}
        return {
            path.name: version_stamp(path)
            for path in sorted(root.iterdir(), key=lambda p: p.name)
            if path.suffix.lower() in BATCH_SUFFIXES
            and not path.name.startswith(".")
            and path.is_file()
        }

    def read(self, name: str) -> bytes:
        """The file's bytes; raises FileNotFoundError naming it when it is not there."""
        path = self._root() / name
        if not path.exists():
            raise FileNotFoundError(f"batch file {uri(path)} is not in the landing location")
        return path.read_bytes()

    def uri(self, name: str) -> str:
        return uri(self._root() / name)


class LocalLanding(LandingResource):
    """Batches in a local folder (the local deployment)."""

    folder: str

    def _root(self) -> UPath:
        return local_path(self.folder)


class S3Landing(LandingResource):
    """Batches under s3://bucket/prefix (production)."""

    s3: ResourceDependency[S3Resource]
    bucket: str
    prefix: str = "landing"

    def _root(self) -> UPath:
        return s3_path(self.s3, self.bucket, self.prefix)
