"""Which reading of the lab's elided arithmetic reproduces what the lab reports (see ``__main__``)."""
