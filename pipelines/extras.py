"""The optional parts of kognitos-elt and the pip extra each needs: a command without its extra says which to install.

The base install is the loader (the dlt source, `run` and `status`); the analytics models, the report, the
simulator and Dagster are extras, so that a data engineer's environment gets no dbt, plotly or web server it did
not ask for. Presence is read from the installed distributions, which imports nothing.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution

from .kognitos import ExitCode, KognitosError

DISTRIBUTION = "kognitos-elt"
EXTRAS: dict[str, tuple[str, ...]] = {
    "analytics": ("dbt-core", "dbt-duckdb"),
    "report": ("plotly",),
    "simulator": ("uvicorn",),
    "dagster": ("dagster", "dagster-dlt"),
}
"""Each extra and the distributions whose presence says it is installed (pyproject.toml lists the rest)."""


class MissingExtraError(KognitosError):
    """A command needs an optional part of kognitos-elt that is not installed."""

    exit_code = ExitCode.CONFIG


def install_command(*extras: str) -> str:
    return f'pip install "{DISTRIBUTION}[{",".join(sorted(extras))}]"'


def absent(*distributions: str) -> list[str]:
    """The distributions that are not installed."""
    found = []
    for name in distributions:
        try:
            distribution(name)
        except PackageNotFoundError:
            found.append(name)
    return found


def require(what: str, *extras: str, also: tuple[str, ...] = ()) -> None:
    """Raise `MissingExtraError` with the exact pip command when `what` cannot run without `extras` (and `also`, more
    distributions those extras install)."""
    if missing := absent(*(name for extra in extras for name in EXTRAS[extra]), *also):
        raise MissingExtraError(
            f"{what} needs {', '.join(missing)}, which this environment does not have. Install it with: "
            f"{install_command(*extras)}"
        )
