"""Export a model with MMDeploy and check parity with PyTorch.

``python tools/deploy.py CONFIG CHECKPOINT --work-dir DIR [--precision fp16]
[--dynamic] [--sdk]``; exits 1 when the backend disagrees with PyTorch.
"""
import sys

import ivslab_plugin  # noqa: F401  (compat fixes before mmdeploy)
from ivslab_plugin.deploy.cli import deploy_main

if __name__ == '__main__':
    sys.exit(deploy_main())
