"""``python -m verify.gradcheck``: see :mod:`verify.gradcheck.cli`."""

from .cli import main

raise SystemExit(main())
