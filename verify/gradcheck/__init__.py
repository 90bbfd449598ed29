"""The gradcheck study: every refnet gradient checked by finite differences, and mutants caught.

``study`` holds the cases, the tables with their legends and the report, ``mutants``
the deliberately wrong backward passes, ``words`` the plain-text tables, legends and
"share of the allowed error" wording, ``cli`` is ``python -m verify.gradcheck``.
"""

from .cli import main

__all__ = ["main"]
