"""Spec entries about decisions rather than data: segments to slice quality by, and the money.

`segments` names columns to report model quality per value of (`contract`, `internet_service`);
a numeric column is sliced into ranges given as `bins`. `economics` says what a retained customer
is worth, what an offer costs and how often it works, so the threshold can maximise profit.
What can be checked without the data is checked here (the target, the id or a dropped column as
a segment, a repeated segment, bins that do not increase, negative money, a rate outside [0, 1]);
the columns themselves are checked against the data in `ml/evaluation/segments.py`.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SegmentSpec(_Strict):
    """One column to slice by; a numeric column needs `bins` (cut points) unless it has few
    distinct values."""

    column: str
    bins: tuple[float, ...] | None = Field(
        None, description="Cut points of a numeric column: [12, 24] -> <12, 12-24, >=24."
    )

    @model_validator(mode="after")
    def _bins_increase(self) -> SegmentSpec:
        if self.bins is None:
            return self
        if not self.bins or not all(math.isfinite(b) for b in self.bins):
            raise ValueError(
                f"segment '{self.column}': bins {list(self.bins)} must be finite numbers"
            )
        if any(a >= b for a, b in zip(self.bins, self.bins[1:])):  # noqa: B905 - offset pairs
            raise ValueError(
                f"segment '{self.column}': bins {list(self.bins)} must increase strictly "
                f"(e.g. {sorted(set(self.bins))})"
            )
        return self


class EconomicsSpec(_Strict):
    """Retention economics: an offer costs `offer_cost`; a churner who gets it stays with
    probability `offer_success_rate`, which is worth `customer_value`."""

    customer_value: float = Field(description="Value of a retained customer (money).")
    offer_cost: float = Field(description="Cost of one retention offer (money).")
    offer_success_rate: float = Field(description="Share of offered churners who stay, in [0, 1].")
    currency: str = Field("", description="Label shown after amounts, e.g. 'EUR'.")

    @field_validator("customer_value", "offer_cost")
    @classmethod
    def _money(cls, value: float, info) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                f"economics.{info.field_name} is {value}; it must be a finite amount >= 0"
            )
        return value

    @field_validator("offer_success_rate")
    @classmethod
    def _rate(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(
                f"economics.offer_success_rate is {value}; it is a share in [0, 1] (30% is 0.3)"
            )
        return value

    @model_validator(mode="after")
    def _an_offer_can_pay(self) -> EconomicsSpec:
        saved = self.customer_value * self.offer_success_rate
        if saved <= self.offer_cost:
            raise ValueError(
                f"economics: an offer saves at most customer_value x offer_success_rate = "
                f"{saved:g}, not more than its offer_cost {self.offer_cost:g}, so no customer "
                "is worth an offer; check the three amounts"
            )
        return self


def parse_segments(value: object) -> object:
    """Accept `contract` as shorthand for `{column: contract}` in the spec's list."""
    if isinstance(value, list):
        return [{"column": item} if isinstance(item, str) else item for item in value]
    return value


def check_segment_columns(
    segments: tuple[SegmentSpec, ...], target: str, id_column: str | None, dropped: list[str]
) -> None:
    """Raise ValueError for a segment that is the target, the id, dropped, or repeated."""
    seen: set[str] = set()
    for segment in segments:
        col = segment.column
        if col == target:
            raise ValueError(
                f"segment '{col}' is the target column; slice by an input column instead"
            )
        if id_column and col == id_column:
            raise ValueError(f"segment '{col}' is the id column: every segment would be one row")
        if col in dropped:
            raise ValueError(f"segment '{col}' is in drop_columns; keep it or remove the segment")
        if col in seen:
            raise ValueError(f"segment '{col}' is listed twice")
        seen.add(col)
