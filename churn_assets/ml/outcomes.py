"""Churn outcomes that arrive after scoring: files of `id, churned, observed_at`, merged.

Rules, per row (every reason is kept; nothing is dropped without one):
- `id` is present and was scored in some batch (else "id 'X' is in no scored batch");
- `churned` is a label: 1/0, true/false, yes/no (any case, spaces ignored);
- `observed_at` parses as a date or timestamp (naive times are read as UTC).
Several valid outcomes of one id: the newest `observed_at` wins (on a tie, the file later in
name order, then the later row); the others are kept in the quarantine as "superseded", so a
corrected label replaces an old one and both stay visible. A file without the three columns
raises OutcomeError naming the file, the missing columns and the fix.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_assets.ml.validation_base import REASONS_COLUMN

ID, LABEL, OBSERVED = "id", "churned", "observed_at"
COLUMNS = (ID, LABEL, OBSERVED)
FILE, ROW = "outcome_file", "outcome_row"
POSITIVE = frozenset({"1", "1.0", "true", "yes", "y"})
NEGATIVE = frozenset({"0", "0.0", "false", "no", "n"})


class OutcomeError(ValueError):
    """An outcome file as a whole cannot be read as outcomes."""


@dataclass(frozen=True)
class Outcomes:
    """The outcome of each id (`id`, `churned` 0/1, `observed_at` UTC, file and row it came
    from), the rows not used with their reasons, and counts for the UI."""

    kept: pd.DataFrame
    quarantined: pd.DataFrame
    rows_in: int
    reasons: dict[str, int]
    conflicting_ids: int


def check_columns(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """The frame's three outcome columns as stripped text; raises OutcomeError naming the file
    and the missing columns when one is absent."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise OutcomeError(
            f"outcome file {where} lacks column(s) {missing} (columns: {list(frame.columns)}); "
            f"an outcome file has the header {','.join(COLUMNS)}, one row per customer outcome"
        )
    return frame[list(COLUMNS)].astype("string").apply(lambda s: s.str.strip())


def merge_outcomes(files: Mapping[str, pd.DataFrame], scored_ids: Collection[str]) -> Outcomes:
    """Check every row of every outcome file and keep the newest outcome per id.

    Args:
        files: file name -> its rows (any columns; see `check_columns`).
        scored_ids: the ids of every scored batch, as text.

    Returns:
        `Outcomes`; every input row is either in `kept` or in `quarantined` with its reasons.

    Raises:
        OutcomeError: a file lacks one of the three columns.
    """
    parts = [
        check_columns(frame, name).assign(**{FILE: name, ROW: np.arange(len(frame))})
        for name, frame in sorted(files.items())
    ]
    rows = pd.concat(parts, ignore_index=True) if parts else _empty()
    label = rows[LABEL].str.lower()
    churned = pd.Series(np.where(label.isin(POSITIVE), 1, 0), index=rows.index)
    observed = pd.to_datetime(rows[OBSERVED], errors="coerce", utc=True, format="mixed")
    reasons = pd.Series([[] for _ in range(len(rows))], index=rows.index, dtype=object)
    ids = rows[ID].fillna("")
    scored = set(scored_ids)
    rules = [
        ("missing_id", ids.eq(""), lambda r: "id is missing"),
        (
            "unknown_id",
            ids.ne("") & ~ids.isin(scored),
            lambda r: f"id '{r[ID]}' is in no scored batch",
        ),
        (
            "bad_label",
            ~(label.isin(POSITIVE) | label.isin(NEGATIVE)),
            lambda r: f"churned '{_text(r[LABEL])}' is not 1/0, true/false or yes/no",
        ),
        (
            "bad_observed_at",
            observed.isna(),
            lambda r: f"observed_at '{_text(r[OBSERVED])}' is not a date",
        ),
    ]
    counts: dict[str, int] = {}
    for rule, mask, message in rules:
        mask = mask.fillna(True).to_numpy(dtype=bool)
        counts[rule] = int(mask.sum())
        for i in np.flatnonzero(mask):
            reasons.iat[i].append(message(rows.iloc[i]))
    valid = reasons.map(len).eq(0)
    good = rows.loc[valid].assign(**{LABEL: churned[valid], OBSERVED: observed[valid]})
    good = good.sort_values([OBSERVED, FILE, ROW], kind="stable")
    newest = ~good.duplicated(ID, keep="last")
    winner = good.loc[newest].set_index(ID)
    conflicting = int((good.groupby(ID)[LABEL].nunique() > 1).sum())
    for i in good.index[~newest.to_numpy()]:
        w = winner.loc[rows.at[i, ID]]
        reasons.at[i] = [f"superseded by the outcome observed at {w[OBSERVED]} in {w[FILE]}"]
    counts["superseded"] = int((~newest).sum())
    kept = good.loc[newest, [ID, LABEL, OBSERVED, FILE, ROW]].reset_index(drop=True)
    kept[LABEL] = kept[LABEL].astype("int8")
    bad = reasons.map(len).gt(0)
    quarantined = rows.loc[bad].assign(**{REASONS_COLUMN: reasons[bad].map("; ".join)})
    return Outcomes(
        kept=kept,
        quarantined=quarantined.reset_index(drop=True),
        rows_in=len(rows),
        reasons={k: v for k, v in counts.items() if v},
        conflicting_ids=conflicting,
    )


def _text(value: object) -> str:
    return "" if value is None or value is pd.NA else str(value)


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})
    return frame.assign(**{FILE: pd.Series(dtype="string"), ROW: pd.Series(dtype="int64")})
