"""The challenge submission script.

``python tools/run_model.py <image_list.txt> <output_dir> --model MODEL``
writes ``<image id>.txt`` (.pts, 51 points, right-most face first) per
image; ``--tsv test_q.tsv`` uses its face boxes instead of a detector.
"""
import sys

import ivslab_plugin  # noqa: F401  (compat fixes before mmdeploy)
from ivslab_plugin.deploy.cli import run_model_main

if __name__ == '__main__':
    sys.exit(run_model_main())
