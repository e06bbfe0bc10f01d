"""The synthetic customers: their columns, the drift profiles and the known churn function."""

from __future__ import annotations

import numpy as np
import pandas as pd

CONTRACTS = np.array(["Month-to-month", "One year", "Two year"])


INTERNET = np.array(["DSL", "Fiber optic", "No"])


PAYMENTS = np.array(
    ["Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"]
)


YES_NO = np.array(["No", "Yes"])


SIGNAL = 1.6  # scales the log-odds: the oracle reaches ROC AUC about 0.88, a good model 0.87


# Drift profiles for the monitoring demos: how far each input moves.
_NO_DRIFT = {
    "tenure_scale": 1.0,
    "charge_shift": 0.0,
    "monthly_contract_boost": 0.0,
    "calls": 0.0,
    "senior": 0.16,
    "fiber": 0.44,
    "electronic_check": 0.34,
    "paperless": 0.59,
}


DRIFT_PROFILES = {
    "none": _NO_DRIFT,
    "mild": {**_NO_DRIFT, "tenure_scale": 0.85, "charge_shift": 5.0, "calls": 0.3},
    # Moves most columns, so Evidently-style dataset drift (half the columns) is found.
    "strong": {
        **_NO_DRIFT,
        "tenure_scale": 0.5,
        "charge_shift": 20.0,
        "monthly_contract_boost": 0.3,
        "calls": 1.5,
        "senior": 0.4,
        "fiber": 0.7,
        "electronic_check": 0.65,
        "paperless": 0.9,
    },
}


def _payment_p(profile: dict) -> list[float]:
    electronic = profile["electronic_check"]
    rest = np.array([0.23, 0.22, 0.21]) / 0.66 * (1 - electronic)
    return [electronic, *rest]


def churn_logit(frame: pd.DataFrame) -> np.ndarray:
    """The known churn function (log-odds before the intercept) of the clean columns."""
    contract = frame["contract"].to_numpy()
    internet = frame["internet_service"].to_numpy()
    logit = SIGNAL * (
        -1.1 * np.log1p(frame["tenure"].to_numpy() / 6.0)
        + 0.9 * (contract == "Month-to-month")
        - 0.9 * (contract == "Two year")
        + 0.55 * (internet == "Fiber optic")
        - 0.5 * (internet == "No")
        + 0.45 * (frame["payment_method"].to_numpy() == "Electronic check")
        + 0.012 * (frame["monthly_charges"].to_numpy() - 65.0)
        + 0.3 * frame["support_calls"].to_numpy()
        - 0.35 * (frame["tech_support"].to_numpy() == "Yes")
        + 0.25 * frame["senior_citizen"].to_numpy()
        + 0.2 * (frame["paperless_billing"].to_numpy() == "Yes")
    )
    return logit


def interaction_logit(frame: pd.DataFrame) -> np.ndarray:
    """A second churn function: steps and interactions a linear model cannot express (new
    month-to-month customers, expensive fiber, a support-call cliff as in the BigML table)."""
    tenure = frame["tenure"].to_numpy()
    monthly = frame["contract"].to_numpy() == "Month-to-month"
    fiber = frame["internet_service"].to_numpy() == "Fiber optic"
    charges = frame["monthly_charges"].to_numpy()
    calls = frame["support_calls"].to_numpy()
    return SIGNAL * (
        1.6 * (monthly & (tenure < 12))
        + 1.2 * (fiber & (charges > 95.0))
        + 1.8 * (calls >= 4)
        - 1.0 * (~monthly & (tenure > 36))
        + 0.8 * ((frame["senior_citizen"].to_numpy() == 1) & ~monthly)
        - 0.6 * (frame["tech_support"].to_numpy() == "Yes")
    )


CHURN_FUNCTIONS = {"logistic": churn_logit, "interactions": interaction_logit}


def customer_block(rng: np.random.Generator, n: int, start: int, drift: str) -> pd.DataFrame:
    """Draw `n` customers (ids from `start`) under a drift profile; no churn column yet."""
    profile = DRIFT_PROFILES[drift]
    senior = (rng.random(n) < profile["senior"]).astype(np.int64)
    partner = YES_NO[(rng.random(n) < 0.48).astype(int)]
    dependents = YES_NO[(rng.random(n) < 0.3).astype(int)]
    tenure = np.minimum(72, np.floor(rng.exponential(28.0 * profile["tenure_scale"], n)))
    p_monthly = min(0.95, 0.55 + profile["monthly_contract_boost"])
    contract_p = [p_monthly, (1 - p_monthly) * 0.47, (1 - p_monthly) * 0.53]
    contract = CONTRACTS[rng.choice(3, size=n, p=contract_p)]
    fiber = profile["fiber"]
    internet = INTERNET[rng.choice(3, size=n, p=[(1 - fiber) * 0.6, fiber, (1 - fiber) * 0.4])]
    base_charge = np.where(internet == "Fiber optic", 85.0, np.where(internet == "DSL", 58.0, 22.0))
    monthly = np.clip(base_charge + profile["charge_shift"] + rng.normal(0, 12.0, n), 18.0, 150.0)
    total = np.round(tenure * monthly * rng.uniform(0.93, 1.07, n), 2)
    tech = np.where(
        internet == "No", "No internet service", YES_NO[(rng.random(n) < 0.35).astype(int)]
    )
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{start + i:08d}" for i in range(n)],
            "gender": np.where(rng.random(n) < 0.5, "Female", "Male"),
            "senior_citizen": senior,
            "partner": partner,
            "dependents": dependents,
            "tenure": tenure.astype(np.int64),
            "contract": contract,
            "internet_service": internet,
            "tech_support": tech,
            "payment_method": PAYMENTS[rng.choice(4, size=n, p=_payment_p(profile))],
            "paperless_billing": YES_NO[(rng.random(n) < profile["paperless"]).astype(int)],
            "monthly_charges": np.round(monthly, 2),
            "total_charges": total,
            "support_calls": rng.poisson(1.2 + profile["calls"], n).astype(np.int64),
        }
    )
    return frame


def calibrated_intercept(churn_rate: float, seed: int, churn_function: str = "logistic") -> float:
    """The intercept that gives `churn_rate` on average, the same for any table size."""
    # Bisection on a fixed calibration sample so the intercept is the same for any n_rows.
    sample = customer_block(np.random.default_rng([seed, 7]), 40_000, 0, "none")
    logit = CHURN_FUNCTIONS[churn_function](sample)
    low, high = -10.0, 10.0
    for _ in range(60):
        mid = (low + high) / 2
        rate = float(np.mean(1 / (1 + np.exp(-(logit + mid)))))
        low, high = (mid, high) if rate < churn_rate else (low, mid)
    return (low + high) / 2
