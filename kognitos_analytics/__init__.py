"""The analytics layer: the models (a dbt project, this folder), their builder, the report and the demo's answers.

`kognitos-elt run` builds the models after each load (builder.py, needs the `analytics` extra); `kognitos-elt report`
writes them as one HTML page (report.py, the `report` extra). The folder is also a dbt package a data engineer can
add to their own dbt project (README, "Analytics models"): dbt reads only its .yml and .sql files.
"""

from pathlib import Path

PROJECT_DIR = Path(__file__).parent
"""The dbt project's folder, wherever the package is installed."""

DEFAULT_REPORT_FILE = "kognitos_report.html"
DEFAULT_REPORT_DAYS = 30
