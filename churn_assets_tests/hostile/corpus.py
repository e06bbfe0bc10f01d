"""What the hostile-input corpus expects of a case, and how a case is run.

A case is a file (bytes), a spec (a dict written as YAML, so spec errors come through `load_spec`)
and one expected outcome: `Raises` (an error type and the words a user must see: file, column or
key, and the fix), `Quarantined` (the rule, the exact reason, how many rows) or `Accepted` (a
documented acceptance with the property that makes it right). Every accepted or quarantining case
also checks row accounting: rows in = kept + quarantined, and every quarantined row has a reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from churn_assets.ml.spec import load_spec
from churn_assets.ml.validation import REASONS_COLUMN, ROW_COLUMN, ValidationResult, validate
from churn_assets.resources.dataset import DatasetResource

HEADER = "id,tenure,charges,plan,churn"


def row(i: int) -> str:
    """Row i of the base table: 40 rows, every fourth a churner, three plans."""
    return (
        f"{i},{i % 70},{20 + i}.5,{('basic', 'pro', 'max')[i % 3]},{'Yes' if i % 4 == 0 else 'No'}"
    )


def table(*extra: str, header: str = HEADER, rows: int = 40, edit=None) -> str:
    """The base CSV text; `edit(i, line)` may rewrite row i; `extra` lines are appended."""
    lines = [row(i) for i in range(1, rows + 1)]
    if edit is not None:
        lines = [edit(i, line) for i, line in enumerate(lines, start=1)]
    return "\n".join([header, *lines, *extra]) + "\n"


@dataclass(frozen=True)
class Raises:
    error: type[Exception]
    pattern: str  # a regular expression the message must contain


@dataclass(frozen=True)
class Quarantined:
    rule: str
    reason: str  # the exact reason text of the first quarantined row
    rows: int = 1


@dataclass(frozen=True)
class Accepted:
    what: str  # the documented acceptance, in words
    check: Callable[[ValidationResult], bool] = lambda result: True


@dataclass(frozen=True)
class Case:
    id: str
    payload: bytes | str | None  # None: the spec names a path that is not written
    expect: Raises | Quarantined | Accepted
    spec: dict = field(default_factory=dict)
    name: str = "data.csv"
    extra_files: dict = field(default_factory=dict)  # other files next to the source


def write_case(case: Case, folder: Path) -> Path:
    """Write the case's files and its spec YAML into `folder`; returns the spec path."""
    if case.payload is not None:
        data = case.payload.encode() if isinstance(case.payload, str) else case.payload
        (folder / case.name).write_bytes(data)
    for name, content in case.extra_files.items():
        (folder / name).write_bytes(content.encode() if isinstance(content, str) else content)
    spec = {"name": "hostile", "id_column": "id", "target_column": "churn", **case.spec}
    spec["source"] = {"kind": "file", "path": case.name, **case.spec.get("source", {})}
    spec["source"]["path"] = spec["source"]["path"].replace("{folder}", str(folder))
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run_case(case: Case, folder: Path) -> ValidationResult:
    """Load the spec, read the source and validate, as `validate_dataset` does."""
    spec = load_spec(str(write_case(case, folder)))
    raw = DatasetResource(spec=str(folder / "spec.yaml")).load_table(spec)
    return validate(raw, spec)


def assert_accounted(result: ValidationResult) -> None:
    """Rows in = kept + quarantined, each source row once; every quarantined row has a reason."""
    report = result.report
    rows = np.sort(np.concatenate([result.valid[ROW_COLUMN], result.quarantined[ROW_COLUMN]]))
    assert report.rows_in == report.rows_kept + report.rows_quarantined
    assert np.array_equal(rows, np.arange(report.rows_in))
    assert all(len(reason) > 0 for reason in result.quarantined[REASONS_COLUMN])


def check_outcome(case: Case, folder: Path) -> None:
    """Run the case and assert its expected outcome exactly."""
    expect = case.expect
    if isinstance(expect, Raises):
        try:
            run_case(case, folder)
        except expect.error as exc:
            message = str(exc)
            assert re.search(expect.pattern, message), f"{message!r} lacks {expect.pattern!r}"
            assert "Traceback" not in message
            return
        raise AssertionError(f"{case.id}: expected {expect.error.__name__}, but it was accepted")
    result = run_case(case, folder)
    assert_accounted(result)
    if isinstance(expect, Quarantined):
        assert result.report.reasons.get(expect.rule) == expect.rows, result.report.reasons
        assert result.report.rows_quarantined == expect.rows, result.report.reasons
        reasons = result.quarantined[REASONS_COLUMN].tolist()
        assert expect.reason in reasons[0].split("; "), reasons[0]
    else:
        assert result.report.rows_quarantined == 0, result.quarantined[REASONS_COLUMN].tolist()
        assert expect.check(result), f"{case.id}: {expect.what}"
