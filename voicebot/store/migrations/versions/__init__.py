"""One module per schema change, applied in order: ``0001_initial``, ``0002_…``."""
