"""Measurements and reports: benchmarks, complexity, the distillation
benchmark and its significance, agreement, detectors, crop coverage, the GPU
smoke figures, report plots. Each module is imported by name."""
