"""Command-line studies that reproduce and explain the lab's failures with measurements."""
