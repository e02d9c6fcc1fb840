"""Load Kognitos workspaces, automations, runs, run events, execution outputs and run aggregates, incrementally.

`dlt init kognitos <destination>` copied this script and the source (the `kognitos/` folder) into your project.
Configure it the dlt way, in `.dlt/secrets.toml` / `.dlt/config.toml` or the environment:

    [sources.kognitos]                       # SOURCES__KOGNITOS__ACCESS_TOKEN, SOURCES__KOGNITOS__ORGANIZATION_ID, ...
    access_token = "..."                     # Kognitos UI, API Keys (secrets.toml)
    organization_id = "..."                  # organizations/<id>; optional if the token sees one organization

then `python kognitos_pipeline.py`. Every option is a field of `kognitos.config.SourceConfig`. Run it as often as you
like: each load fetches only what changed, and a load killed half-way is finished by the next without a row twice.
"""

from contextlib import ExitStack

import dlt
from kognitos import finish_interrupted_loads, kognitos_source


def load(*resources: str) -> None:
    """Load the named resources (with their parents), or all of them."""
    # Into DuckDB the file is <pipeline_name>.duckdb: not named like the dataset, which DuckDB could not tell apart.
    pipeline = dlt.pipeline(pipeline_name="kognitos_pipeline", destination="duckdb", dataset_name="kognitos")
    # A load a kill interrupted: finished first, reloading what may have half-committed, so no row is loaded twice.
    finish_interrupted_loads(pipeline)
    with ExitStack() as cleanup:  # closes the source's HTTP client and worker threads when the load ends
        source = kognitos_source(cleanup=cleanup)
        if resources:
            source = source.with_resources(*resources)
        print(pipeline.run(source))


if __name__ == "__main__":
    # Depth-first extraction keeps memory flat on big backfills; `[extract] next_item_mode` in config.toml wins.
    if dlt.config.get("extract.next_item_mode") is None:
        dlt.config["extract.next_item_mode"] = "fifo"
    load()
