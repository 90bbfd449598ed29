"""Entry point of ``python -m verify.compare``."""

import sys

from .cli import main

sys.exit(main())
