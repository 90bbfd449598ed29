"""``python -m verify.overflow``: see :mod:`verify.overflow.cli`."""

from .cli import main

raise SystemExit(main())
