"""Which resources a load may select: a child resource needs its parents, or their state advances unloaded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from dlt.extract.source import DltSource

from .kognitos import ExitCode, KognitosError


class ResourceSelectionError(KognitosError, ValueError):
    """A resource is unknown, or a child resource was selected without its parent."""

    exit_code = ExitCode.CONFIG


def resource_parents(source: DltSource) -> dict[str, str | None]:
    """Each resource's parent resource: dlt reads a child's parents even when only the child is selected."""
    return {name: (resource._pipe.parent.name if resource.is_transformer else None)  # noqa: SLF001
            for name, resource in source.resources.items()}


def check_selection(source: DltSource, selected: Sequence[str]) -> None:
    """Refuse a child without its parents: the parents' cursors would advance without their rows loaded."""
    parents = resource_parents(source)
    unknown = sorted(set(selected) - parents.keys())
    missing = sorted({ancestor for name in selected for ancestor in _ancestors(parents, name)} - set(selected))
    if unknown:
        raise ResourceSelectionError(f"Unknown resource(s) {unknown}; choose from {sorted(parents)}.")
    if missing:
        raise ResourceSelectionError(
            f"Selected {sorted(selected)} without their parent resource(s) {missing}: dlt would read the parents "
            "and advance their incremental state without loading their rows. Select the parents too."
        )


def _ancestors(parents: dict[str, str | None], name: str) -> Iterator[str]:
    """A resource's parent, the parent's parent, and so on: the whole fix, not one step of it."""
    while (name := parents.get(name) or ""):
        yield name
