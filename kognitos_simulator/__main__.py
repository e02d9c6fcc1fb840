"""`python -m kognitos_simulator`: see cli.py."""

from __future__ import annotations

from kognitos_simulator.cli import main

raise SystemExit(main())
