"""CSV files like an analyst's: IDs, text dates, many-level categories, 0/1 and True/False flags
with gaps, an imbalanced yes/no target and a regression target, made with a seed."""

import io

import numpy as np
import pandas as pd

CITIES = [f"city_{i:02d}" for i in range(40)]
PLANS = ["basic", "plus", "pro", "team"]


def customers(n_rows: int = 300, *, seed: int = 0) -> pd.DataFrame:
    """Customers with a churn label (yes/no, about 13 % yes) and next year's spend."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n_rows).astype(float)
    spend = rng.gamma(2.0, 30.0, n_rows).round(2)
    plan = rng.choice(PLANS, n_rows, p=[0.4, 0.3, 0.2, 0.1])
    active = rng.integers(0, 2, n_rows)
    risk = -2.6 + 1.2 * (tenure < 12) + 0.9 * (plan == "basic") - 0.8 * active
    churn = np.where(rng.random(n_rows) < 1 / (1 + np.exp(-risk)), "yes", "no")
    days = rng.integers(0, 1500, n_rows)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(10_001, 10_001 + n_rows),
            "signup_date": (pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D")).strftime(
                "%Y-%m-%d"
            ),
            "account_code": [f"AC-{rng.integers(10**8):08d}" for _ in range(n_rows)],
            "plan": plan,
            "city": rng.choice(CITIES, n_rows),
            "region": rng.choice(["north", "south", "east", "west"], n_rows),
            "tenure_months": tenure,
            "monthly_spend": spend,
            "is_active": active,
            "has_promo": rng.choice([True, False], n_rows),
            "country": "NL",
            "churn": churn,
            "spend_next_year": (spend * 12 * (1 + 0.01 * tenure) + rng.normal(0, 40, n_rows)).round(
                2
            ),
        }
    )
    for column in ("tenure_months", "monthly_spend", "city", "has_promo"):
        gaps = rng.random(n_rows) < 0.05
        frame[column] = frame[column].astype(object).where(~gaps, None)
    return frame


def as_csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def churn_csv(n_rows: int = 300, *, seed: int = 0) -> bytes:
    """The churn file: target `churn`, `spend_next_year` left out (it is known after)."""
    return as_csv(customers(n_rows, seed=seed).drop(columns=["spend_next_year"]))


def spend_csv(n_rows: int = 300, *, seed: int = 0) -> bytes:
    """The regression file: target `spend_next_year`, without the churn label."""
    return as_csv(customers(n_rows, seed=seed).drop(columns=["churn"]))
