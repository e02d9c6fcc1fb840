"""The analytics models: a dbt project (this folder) that `kognitos-elt run` builds after each load.

It is also a dbt package a data engineer can add to their own dbt project (README, "Analytics models").
"""

from pathlib import Path

PROJECT_DIR = Path(__file__).parent
"""The dbt project's folder, wherever the package is installed."""
