"""Landing and report stores on S3 (a real moto server), through `S3Resource`'s client."""

import pytest
from dagster_aws.s3 import S3Resource

from churn_assets.resources.landing import S3Landing
from churn_assets.resources.reports import S3Reports
from churn_assets.resources.storage import s3_path, write_atomic

pytestmark = pytest.mark.integration


def test_landing_lists_batches_with_etags_and_reads_them(s3_endpoint, s3_bucket, s3_client):
    for key, body in {
        "in/b.csv": b"customer_id\nC2\n",
        "in/a.parquet": b"PAR1",
        "in/notes.txt": b"not a batch",
        "in/.partial.csv": b"being uploaded",
        "in/archive/old.csv": b"customer_id\nC0\n",  # below the prefix: not this location's
        "elsewhere/c.csv": b"customer_id\nC3\n",
    }.items():
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=body)
    landing = S3Landing(s3=S3Resource(endpoint_url=s3_endpoint), bucket=s3_bucket, prefix="in")

    found = landing.list_batches()

    assert sorted(found) == ["a.parquet", "b.csv"]
    etag = s3_client.head_object(Bucket=s3_bucket, Key="in/b.csv")["ETag"].strip('"')
    assert found["b.csv"] == etag
    assert landing.read("b.csv") == b"customer_id\nC2\n"
    assert landing.uri("b.csv") == f"s3://{s3_bucket}/in/b.csv"

    s3_client.put_object(Bucket=s3_bucket, Key="in/b.csv", Body=b"customer_id\nC2\nC4\n")
    assert landing.list_batches()["b.csv"] != found["b.csv"]  # rewritten: a new stamp
    with pytest.raises(FileNotFoundError, match=f"s3://{s3_bucket}/in/z.csv"):
        landing.read("z.csv")


def test_an_empty_landing_prefix_lists_nothing(s3_endpoint, s3_bucket):
    landing = S3Landing(s3=S3Resource(endpoint_url=s3_endpoint), bucket=s3_bucket)
    assert landing.list_batches() == {}


def test_reports_are_one_object_with_their_content_type(s3_endpoint, s3_bucket, s3_client):
    reports = S3Reports(s3=S3Resource(endpoint_url=s3_endpoint), bucket=s3_bucket)

    where = reports.write("drift/b1.csv.html", b"<html>report</html>")

    assert where == f"s3://{s3_bucket}/reports/drift/b1.csv.html"
    found = s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [item["Key"] for item in found] == ["reports/drift/b1.csv.html"]
    head = s3_client.head_object(Bucket=s3_bucket, Key="reports/drift/b1.csv.html")
    assert head["ContentType"] == "text/html"


def test_a_write_that_fails_midway_leaves_the_previous_object(s3_endpoint, s3_bucket, s3_client):
    path = s3_path(S3Resource(endpoint_url=s3_endpoint), s3_bucket, "data") / "x.bin"
    write_atomic(path, b"old")

    with pytest.raises(RuntimeError, match="producer died"), path.open("wb") as handle:
        handle.write(b"half of the new")
        raise RuntimeError("producer died")

    body = s3_client.get_object(Bucket=s3_bucket, Key="data/x.bin")["Body"].read()
    assert body == b"old"
    assert path.read_bytes() == b"old" and path.exists()
    assert not (path.parent / "y.bin").exists()
