"""Pure transformation steps: no Airflow imports, so they are unit-tested directly."""

from __future__ import annotations

import csv
import io
from collections import defaultdict


def parse_rows(text: str) -> list[dict[str, str]]:
    """CSV text with a header -> rows; blank lines are ignored."""
    return [row for row in csv.DictReader(io.StringIO(text)) if any(v.strip() for v in row.values())]


def clean(rows: list[dict[str, str]]) -> list[dict[str, object]]:
    """Drop rows without a region or a numeric amount; normalise the region name."""
    cleaned = []
    for row in rows:
        region = (row.get("region") or "").strip().title()
        try:
            amount = float(row.get("amount") or "")
        except ValueError:
            continue
        if region:
            cleaned.append({"region": region, "amount": amount})
    return cleaned


def totals_by_region(rows: list[dict[str, object]]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        totals[str(row["region"])] += float(row["amount"])
    return {k: round(v, 2) for k, v in sorted(totals.items())}
