"""The shipped BigML files are the publisher's, unchanged, and the packaged spec finds them."""

import hashlib

import pytest

from churn_assets.ml.spec import load_spec

SUMS = {
    "churn-bigml-80.csv": "b8bbd0099748ba3b0f337538cfa5997b5255bdc23c35144ffabba3cafb192550",
    "churn-bigml-20.csv": "c73bb8e7a47c8fced62ddef54741bbbc4005243fb40a65996360337844fd17f7",
}


@pytest.mark.parametrize("name", sorted(SUMS))
def test_shipped_file_matches_its_source_note(bigml_data, name):
    digest = hashlib.sha256((bigml_data / name).read_bytes()).hexdigest()
    assert digest == SUMS[name]
    assert SUMS[name] in (bigml_data / "SOURCE.md").read_text()


def test_packaged_spec_reads_the_shipped_files(bigml_data):
    spec = load_spec("bigml_telecom")
    assert spec.source.path == str(bigml_data / "churn-bigml-80.csv")
    assert spec.split.test_path == str(bigml_data / "churn-bigml-20.csv")
