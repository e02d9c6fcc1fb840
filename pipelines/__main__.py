"""`python -m kognitos_elt` is `kognitos-elt`."""

import sys

from .cli import main

sys.exit(main())
