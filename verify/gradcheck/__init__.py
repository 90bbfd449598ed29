"""The gradcheck study: every refnet gradient checked by finite differences, and mutants caught.

``study`` holds the cases and the report, ``mutants`` the deliberately wrong
backward passes, ``cli`` is ``python -m verify.gradcheck``.
"""

from .cli import main

__all__ = ["main"]
