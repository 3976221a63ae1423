"""The efficiency report: every model on every installed runtime.

``python tools/analysis/benchmark.py --model NAME CONFIG CKPT [--model ...]
[--int8 NAME] [--data-root DIR] [--work-dir DIR]``; prints one table (NME,
parameters, GFLOPs, file size, single-thread latency) and writes a Pareto
plot. See docs/embedded.md.
"""
import sys

import ivslab_plugin  # noqa: F401  (compat fixes, registration)
from ivslab_plugin.apis.benchmark import benchmark_main

if __name__ == '__main__':
    sys.exit(benchmark_main())
