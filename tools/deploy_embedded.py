"""Export a model to an embedded runtime and check parity with PyTorch.

``python tools/deploy_embedded.py CONFIG CHECKPOINT --runtime
{onnxruntime,onnxruntime-int8,ncnn,tflite,tflite-int8} --work-dir DIR
[--data-root DIR] [--keep-head-fp32]``; exits 1 when parity fails. The work
directory is a model for ``tools/demo.py`` and ``tools/run_model.py``
(``--model DIR``). See docs/embedded.md.
"""
import sys

import ivslab_plugin  # noqa: F401  (compat fixes before mmdeploy)
from ivslab_plugin.deploy.cli import deploy_embedded_main

if __name__ == '__main__':
    sys.exit(deploy_embedded_main())
