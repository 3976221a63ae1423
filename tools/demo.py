"""Draw 51 landmarks on an image, a folder or a video.

``python tools/demo.py INPUT --out-dir DIR --model MODEL [--config CFG]``
"""
import sys

import ivslab_plugin  # noqa: F401  (compat fixes before mmdeploy)
from ivslab_plugin.deploy.cli import demo_main

if __name__ == '__main__':
    sys.exit(demo_main())
