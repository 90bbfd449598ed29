"""``python -m verify.lr_threshold``: see :mod:`verify.lr_threshold.cli`."""

from .cli import main

raise SystemExit(main())
