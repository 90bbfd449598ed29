"""``python -m verify.experiments``: see :mod:`verify.experiments.cli`."""

from .cli import main

raise SystemExit(main())
