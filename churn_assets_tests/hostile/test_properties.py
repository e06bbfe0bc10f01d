"""Hypothesis-generated tables and specs: no input ends in a bare traceback or a silent loss.

Property: reading and validating either raises SpecError / SourceError / SchemaError whose message
names a column, a spec key or the file, or every row is accounted for (rows in = kept +
quarantined, each row once) and every quarantined row has a reason.
"""

from __future__ import annotations

import csv
import io
import random
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from churn_assets.ml.sources import SourceError
from churn_assets.ml.spec import SpecError, load_spec
from churn_assets.ml.validation import SchemaError, validate
from churn_assets.resources.dataset import DatasetResource
from churn_assets_tests.hostile.corpus import assert_accounted

# Mostly ordinary names and options, with hostile ones mixed in, so both outcomes are exercised.
HOSTILE_NAMES = ["tenure ", "churned", "split", "row_id", "_source_row", "", "tenure"]
CELLS = [
    "1", "2.5", "-3", "1,5", "1,695.0", "21,00", "inf", "-inf", "1e309", "NaN", "", "  ",
    "abc", "Yes", "x\x00y", "é", "=1+1", "007", "7", "a;b", '"q"',
]  # fmt: skip
LABELS = ["Yes", "No"] * 12 + ["yes", " NO ", "maybe", "", "1", "0"]
SPEC_KEYS = [
    "source", "thousands", "decimal", "delimiter", "encoding", "ranges", "bucket_features",
    "negative_labels", "numeric_columns", "id_column", "target_column", "positive_label",
]  # fmt: skip


def table_from(rnd: random.Random) -> tuple[list[str], list[list[str]], bool]:
    """A small table: 1-4 feature columns (names sometimes hostile), an optional id, a target."""
    names = rnd.sample(["tenure", "charges", "plan", "calls", "region"], rnd.randint(1, 4))
    names = [rnd.choice(HOSTILE_NAMES) if rnd.random() < 0.1 else name for name in names]
    with_id = rnd.random() < 0.5
    ok_cells = ["1", "2.5", "-3", "12", "0", "basic", "pro"]
    cell = lambda: rnd.choice(CELLS) if rnd.random() < 0.15 else rnd.choice(ok_cells)  # noqa: E731
    rows = [
        [
            *([rnd.choice(["1", "2", " ", "3", "007", "7"])] if with_id else []),
            *(cell() for _ in names),
            rnd.choice(LABELS),
        ]
        for _ in range(rnd.randint(1, 12))
    ]
    return [*(["id"] if with_id else []), *names, "churn"], rows, with_id


def spec_from(rnd: random.Random, header: list[str], with_id: bool) -> dict:
    """A spec with each option usually sane and sometimes hostile."""
    source = {"kind": "file", "path": "data.csv"}
    source["delimiter"] = rnd.choice([","] * 12 + [";", "\t", "||"])
    numbers = [{}] * 16 + [{"thousands": ","}, {"thousands": ".", "decimal": ","}]
    numbers += [{"decimal": ","}, {"thousands": ",,"}, {"thousands": ".", "decimal": "."}]
    source.update(rnd.choice(numbers))
    source["encoding"] = rnd.choice(["utf-8"] * 24 + ["latin-1", "utf-9"])
    spec = {"name": "prop", "target_column": "churn", "source": source}
    if with_id:
        spec["id_column"] = "id"
    column = rnd.choice(header)
    if rnd.random() < 0.2:
        low = rnd.randint(-5, 5)
        spec["ranges"] = {column: {"min": low, "max": low + rnd.randint(-2, 20)}}
    if rnd.random() < 0.15:
        bins = [rnd.randint(0, 10) for _ in range(rnd.randint(1, 4))]
        bins = sorted(set(bins)) if rnd.random() < 0.7 else bins
        spec["bucket_features"] = {"b": {"column": column, "bins": bins}}
    if rnd.random() < 0.1:
        spec["negative_labels"] = rnd.sample(LABELS, rnd.randint(0, 2))
    if rnd.random() < 0.1:
        spec["positive_label"] = rnd.choice(LABELS)
    return spec


def _csv(header, rows, delimiter: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter[0], lineterminator="\n")
    writer.writerows([header, *rows])
    return buffer.getvalue()


def _names_something(message: str, header: list[str]) -> bool:
    quoted = set(re.findall(r"'([^']*)'", message))
    keys = {k for k in SPEC_KEYS if k in message}
    return (
        bool(quoted & {*header, *(h.strip() for h in header)})
        or bool(keys)
        or ("data.csv" in message)
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_generated_input_is_explained_or_accounted(data):
    rnd = data.draw(st.randoms(use_true_random=False))
    header, rows, with_id = table_from(rnd)
    spec_dict = spec_from(rnd, header, with_id)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "data.csv").write_text(_csv(header, rows, spec_dict["source"]["delimiter"]))
        (folder / "spec.yaml").write_text(yaml.safe_dump(spec_dict))
        try:
            spec = load_spec(str(folder / "spec.yaml"))
            raw = DatasetResource().load_table(spec)
            result = validate(raw, spec)
        except (SpecError, SourceError, SchemaError) as exc:
            event(type(exc).__name__)
            assert _names_something(str(exc), header), str(exc)
            return
    event(f"accounted, {'some' if result.report.rows_quarantined else 'none'} quarantined")
    assert_accounted(result)
