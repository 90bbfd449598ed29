"""Entry point for ``python -m refnet``."""

import sys

from .cli import main

sys.exit(main())
