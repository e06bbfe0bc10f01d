"""The landing location where incoming customer batches arrive: a local folder or an S3 prefix."""

from abc import abstractmethod
from pathlib import Path

from dagster import ConfigurableResource, ResourceDependency
from dagster_aws.s3 import S3Resource

BATCH_SUFFIXES = (".csv", ".parquet")


class LandingResource(ConfigurableResource):
    """Lists batch files with a version stamp and reads their bytes."""

    @abstractmethod
    def list_batches(self) -> dict[str, str]:
        """File name -> version stamp (size and mtime, or the S3 ETag)."""

    @abstractmethod
    def read(self, name: str) -> bytes: ...

    @abstractmethod
    def uri(self, name: str) -> str: ...


class LocalLanding(LandingResource):
    """Batches in a local folder (the local deployment)."""

    folder: str

    def list_batches(self) -> dict[str, str]:
        root = Path(self.folder)
        if not root.exists():
            return {}
        found = {}
        for path in sorted(root.iterdir()):
            if path.suffix.lower() in BATCH_SUFFIXES and not path.name.startswith("."):
                stat = path.stat()
                found[path.name] = f"{stat.st_size}-{stat.st_mtime_ns}"
        return found

    def read(self, name: str) -> bytes:
        path = Path(self.folder) / name
        if not path.exists():
            raise FileNotFoundError(f"batch file {path} is not in the landing folder")
        return path.read_bytes()

    def uri(self, name: str) -> str:
        return str((Path(self.folder) / name).resolve())


class S3Landing(LandingResource):
    """Batches under s3://bucket/prefix (production)."""

    s3: ResourceDependency[S3Resource]
    bucket: str
    prefix: str = "landing"

    def _key(self, name: str) -> str:
        return f"{self.prefix.strip('/')}/{name}"

    def list_batches(self) -> dict[str, str]:
        paginator = self.s3.get_client().get_paginator("list_objects_v2")
        found = {}
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix.strip("/") + "/"):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if name.lower().endswith(BATCH_SUFFIXES):
                    found[name] = item["ETag"].strip('"')
        return found

    def read(self, name: str) -> bytes:
        obj = self.s3.get_client().get_object(Bucket=self.bucket, Key=self._key(name))
        return obj["Body"].read()

    def uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(name)}"
