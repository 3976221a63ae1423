"""Files every export copies beside its model (``run_model.py``, the
bundle's command line); not imported by the package."""
