"""Dataset specs: where a churn table comes from and how to read its columns.

A spec is a YAML file validated by pydantic. Unknown keys are refused with a message that names the
file, the key and the closest valid key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import codecs
import difflib
import encodings.aliases
import math
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from churn_assets.ml.spec_decisions import (
    EconomicsSpec,
    SegmentSpec,
    check_segment_columns,
    parse_segments,
)

PACKAGED_SPECS = Path(__file__).resolve().parent.parent / "datasets"
DEFAULT_SPEC = "synthetic"
_ENCODINGS = sorted(set(encodings.aliases.aliases.values()) | {"utf-8", "utf-8-sig", "latin-1"})


class SpecError(ValueError):
    """A dataset spec that cannot be read or does not make sense."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticSource(_Strict):
    """Parameters of the seeded synthetic generator (see `churn_assets.ml.synthetic`)."""

    n_rows: int = Field(20_000, gt=0, description="Rows to generate.")
    seed: int = Field(42, description="Seed of the generator.")
    churn_rate: float = Field(0.26, gt=0.0, lt=1.0, description="Target share of churners.")
    fault_rate: float = Field(
        0.01, ge=0.0, le=0.5, description="Share of rows given a data-quality fault."
    )
    drift: Literal["none", "mild", "strong"] = Field("none", description="Drift profile.")


class SourceSpec(_Strict):
    """Where the table is read from: exactly one of the kinds below."""

    kind: Literal["synthetic", "file", "url", "sql"] = "synthetic"
    path: str | None = Field(
        None, description="CSV or Parquet path (kind=file) or http(s)/s3 URL (kind=url)."
    )
    format: Literal["auto", "csv", "parquet"] = "auto"
    encoding: str = Field("utf-8", description="Text encoding of CSV sources (a codecs name).")
    delimiter: str = Field(",", description="CSV field delimiter: one character.")
    delimiter_is_regex: bool = Field(
        False, description="Read `delimiter` as a regular expression (e.g. '\\s*\\|\\|\\s*')."
    )
    thousands: str | None = Field(
        None, description="Thousands separator in numbers ('1,695.0' needs ','); none by default."
    )
    decimal: str = Field(".", description="Decimal mark in numbers (',' for '21,00').")
    sql_url: str | None = Field(
        None, description="SQLAlchemy URL (kind=sql); may name an environment variable as ${VAR}."
    )
    query: str | None = Field(None, description="SQL query or table name (kind=sql).")
    synthetic: SyntheticSource = SyntheticSource()

    @model_validator(mode="after")
    def _kind_has_what_it_needs(self) -> SourceSpec:
        if self.kind in ("file", "url") and not self.path:
            raise ValueError(f"source.kind '{self.kind}' needs source.path")
        if self.kind == "sql" and not (self.sql_url and self.query):
            raise ValueError("source.kind 'sql' needs source.sql_url and source.query")
        # A field another kind reads would be ignored: the table would silently come from
        # elsewhere (`source: {path: x.csv}` without a kind used to generate synthetic rows).
        used = {"synthetic": set(), "file": {"path"}, "url": {"path"}, "sql": {"sql_url", "query"}}
        ignored = [f for f in ("path", "sql_url", "query") if getattr(self, f) is not None]
        ignored = [f for f in ignored if f not in used[self.kind]]
        if ignored:
            default = "" if "kind" in self.model_fields_set else " (the default: kind is not set)"
            fix = "kind: sql" if "path" not in ignored else "kind: file (or kind: url for a URL)"
            raise ValueError(
                f"source.{ignored[0]} is set but source.kind is '{self.kind}'{default}, which "
                f"does not read it; set source.{fix}"
            )
        return self

    @model_validator(mode="after")
    def _csv_options_make_sense(self) -> SourceSpec:
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            close = difflib.get_close_matches(self.encoding.lower(), _ENCODINGS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else " (e.g. 'utf-8', 'latin-1')"
            raise ValueError(
                f"source.encoding '{self.encoding}' is not a known encoding{hint}"
            ) from None
        if not self.delimiter_is_regex and len(self.delimiter) != 1:
            raise ValueError(
                f"source.delimiter '{self.delimiter}' must be one character; for a multi-character "
                "separator set source.delimiter_is_regex: true and give a regular expression"
            )
        for key in ("thousands", "decimal"):
            value = getattr(self, key)
            if value is not None and len(value) != 1:
                raise ValueError(f"source.{key} '{value}' must be one character")
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError(f"source.thousands and source.decimal are both '{self.decimal}'")
        # A thousands separator equal to the delimiter works inside quotes ("1,695.0");
        # a decimal mark equal to the delimiter cannot be told apart from it.
        if not self.delimiter_is_regex and self.delimiter == self.decimal:
            raise ValueError(
                f"source.delimiter and source.decimal are both '{self.decimal}'; a file with "
                "decimal commas is ';'-separated: set delimiter: ';' and decimal: ','"
            )
        return self


class SplitSpec(_Strict):
    """How the validated rows are split into train and test."""

    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    random_state: int = 42
    test_path: str | None = Field(
        None, description="A separate file holding the test rows (e.g. a publisher's 80/20 split)."
    )


class RangeSpec(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _min_not_above_max(self) -> RangeSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        for bound in (self.min, self.max):
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"bound {bound} is not a finite number")
        return self


class BucketSpec(_Strict):
    column: str
    bins: list[float] = Field(min_length=2)

    @model_validator(mode="after")
    def _bins_increase(self) -> BucketSpec:
        if not all(math.isfinite(b) for b in self.bins):
            raise ValueError(f"bins {self.bins} must be finite numbers")
        if any(a >= b for a, b in zip(self.bins, self.bins[1:])):  # noqa: B905 - offset pairs
            raise ValueError(
                f"bins {self.bins} must increase strictly (e.g. {sorted(set(self.bins))})"
            )
        return self


class DatasetSpec(_Strict):
    """A churn table: its source, id, target and (optionally) declared column types and rules."""

    name: str
    description: str = ""
    source: SourceSpec = SourceSpec()
    id_column: str | None = Field(
        None, description="Unique customer id; when absent the row number is used as id."
    )
    target_column: str
    positive_label: str = Field("Yes", description="Value of the target that means churned.")
    negative_labels: list[str] | None = Field(
        None, description="Values meaning retained; inferred when the target has two values."
    )
    numeric_columns: list[str] | None = Field(None, description="Inferred when absent.")
    categorical_columns: list[str] | None = Field(None, description="Inferred when absent.")
    drop_columns: list[str] = Field(default_factory=list)
    date_column: str | None = Field(None, description="Enables a time-based split.")
    split: SplitSpec = SplitSpec()
    ranges: dict[str, RangeSpec] = Field(default_factory=dict)
    allowed_categories: dict[str, list[str]] = Field(default_factory=dict)
    ratio_features: dict[str, tuple[str, str]] = Field(
        default_factory=dict, description="Engineered feature name -> (numerator, denominator)."
    )
    bucket_features: dict[str, BucketSpec] = Field(default_factory=dict)
    sum_features: dict[str, list[str]] = Field(
        default_factory=dict, description="Engineered feature name -> numeric columns to add up."
    )
    segments: tuple[SegmentSpec, ...] = Field(
        (), description="Columns to report quality by: [contract, {column: tenure, bins: [12]}]."
    )
    economics: EconomicsSpec | None = Field(
        None, description="Retention economics; the threshold then maximises expected profit."
    )

    _segments_shorthand = field_validator("segments", mode="before")(parse_segments)

    @model_validator(mode="after")
    def _columns_do_not_collide(self) -> DatasetSpec:
        declared = set(self.numeric_columns or []) & set(self.categorical_columns or [])
        if declared:
            raise ValueError(f"columns declared both numeric and categorical: {sorted(declared)}")
        if self.id_column and self.id_column == self.target_column:
            raise ValueError(
                f"column '{self.id_column}' cannot be both id_column and target_column"
            )
        for col in (self.target_column, self.id_column):
            if col and col in self.drop_columns:
                raise ValueError(f"column '{col}' is the id or target and cannot be dropped")
        check_segment_columns(self.segments, self.target_column, self.id_column, self.drop_columns)
        return self

    @property
    def id_name(self) -> str:
        """The id column name in loaded data (`row_id` when the source has none)."""
        return self.id_column or "row_id"


def _describe(err: ValidationError, path: str) -> str:
    lines = []
    for item in err.errors():
        loc = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            key = str(item["loc"][-1])
            parent: type[BaseModel] = DatasetSpec
            for part in item["loc"][:-1]:
                field = parent.model_fields.get(str(part))
                annotation = getattr(field, "annotation", None)
                if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    parent = annotation
            close = difflib.get_close_matches(key, list(parent.model_fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            lines.append(f"unknown key '{loc}'{hint}")
        else:
            lines.append(f"'{loc}': {item['msg']}")
    return f"dataset spec {path} is invalid: " + "; ".join(lines)


def resolve_spec_path(name_or_path: str) -> Path:
    """Find a spec by path, or by name among the packaged specs (`synthetic`, `bigml_telecom`)."""
    candidate = Path(name_or_path)
    if candidate.is_dir():
        raise SpecError(f"dataset spec {candidate} is a directory; give the spec's YAML file")
    if candidate.is_file():  # any existing file, whatever its suffix (`--spec myspec`)
        return candidate
    if candidate.suffix in (".yaml", ".yml"):
        raise SpecError(f"dataset spec file not found: {candidate}")
    packaged = PACKAGED_SPECS / f"{name_or_path}.yaml"
    if packaged.exists():
        return packaged
    known = sorted(p.stem for p in PACKAGED_SPECS.glob("*.yaml"))
    raise SpecError(
        f"no dataset spec named '{name_or_path}': no such file, and no packaged spec of that "
        f"name (packaged specs: {known})"
    )


def load_spec(name_or_path: str = DEFAULT_SPEC) -> DatasetSpec:
    """Read and validate a spec; raises SpecError naming the file and the offending key."""
    path = resolve_spec_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"dataset spec {path} cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"dataset spec {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"dataset spec {path} must be a mapping, got {type(raw).__name__}")
    try:
        spec = DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_describe(exc, str(path))) from None
    if spec.source.kind == "file" and spec.source.path:
        source = spec.source.model_copy(update={"path": _local_path(spec.source.path, path)})
        spec = spec.model_copy(update={"source": source})
    if spec.split.test_path:
        split = spec.split.model_copy(update={"test_path": _local_path(spec.split.test_path, path)})
        spec = spec.model_copy(update={"split": split})
    return spec


def _local_path(value: str, spec_path: Path) -> str:
    # ${VARS} expand; relative paths are relative to the spec, so spec and data travel together.
    src = Path(os.path.expandvars(value)).expanduser()
    if not src.is_absolute():
        src = (spec_path.parent / src).resolve()
    return str(src)
