"""Checks of exports: parity with PyTorch and accuracy (the INT8 gate)."""
