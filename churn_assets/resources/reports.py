"""Where human-readable reports (the standalone drift HTML) are written: a folder or S3."""

from abc import abstractmethod
from pathlib import Path

from dagster import ConfigurableResource, ResourceDependency
from dagster_aws.s3 import S3Resource


class ReportStore(ConfigurableResource):
    @abstractmethod
    def write(self, name: str, payload: bytes) -> str:
        """Store the bytes under `name`; return where a person can open them."""


class LocalReports(ReportStore):
    folder: str

    def write(self, name: str, payload: bytes) -> str:
        path = Path(self.folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(payload)
        tmp.replace(path)
        return str(path.resolve())


class S3Reports(ReportStore):
    s3: ResourceDependency[S3Resource]
    bucket: str
    prefix: str = "reports"

    def write(self, name: str, payload: bytes) -> str:
        key = f"{self.prefix.strip('/')}/{name}"
        content_type = "text/html" if name.endswith(".html") else "application/octet-stream"
        self.s3.get_client().put_object(
            Bucket=self.bucket, Key=key, Body=payload, ContentType=content_type
        )
        return f"s3://{self.bucket}/{key}"
