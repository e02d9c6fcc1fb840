"""What every section of `kognitos-elt report` is made of: a plotly chart, the table of its numbers, the window's
days in SQL, and the styling and labels the sections share (report.py and human_loop.py both build sections)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

Query = Callable[..., list[tuple[Any, ...]]]
"""Runs SQL on the models (`{models}` is their schema, `%s` a parameter) and returns plain Python rows."""
STATE_COLORS = {"completed": "#2e7d32", "failed": "#c62828", "stopped": "#757575", "awaiting_guidance": "#f9a825",
                "open": "#1565c0", "pending": "#90caf9", "executing": "#1565c0", "stopping": "#5e35b1"}
AGE_BUCKETS = ((3600, "under 1 hour"), (86400, "1 to 24 hours"), (7 * 86400, "1 to 7 days"), (None, "over 7 days"))
"""(upper bound in seconds, label): how the backlog and the pending exceptions split by age at the last load."""


@dataclass
class Section:
    """One chart and the table of its numbers."""

    key: str
    title: str
    note: str
    figure: go.Figure
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def on_local_dates(column: str) -> str:
    """The SQL condition "`column`'s local date is one of the window's": parameters (zone, first date, last date)."""
    return f"cast({column} at time zone %s as date) BETWEEN %s AND %s"


def age_label(seconds: float) -> str:
    return next(label for limit, label in AGE_BUCKETS if limit is None or seconds < limit)


def unique(labels: list[str]) -> list[str]:
    """Chart categories must differ: two automations may share a name (a deleted one and its successor)."""
    seen: dict[str, int] = {}
    labelled = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        labelled.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return labelled


def styled(figure: go.Figure) -> go.Figure:
    figure.update_layout(template="plotly_white", margin={"l": 10, "r": 10, "t": 10, "b": 10}, height=380,
                         legend={"orientation": "h", "y": -0.2}, yaxis={"automargin": True})
    return figure
