"""Turn a distillation checkpoint into a plain student checkpoint."""
from __future__ import annotations

import os
import os.path as osp
from typing import Dict

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from ..models.distillers import student_state_from_distiller


def convert_kd_checkpoint(src: str, dst: str) -> Dict[str, torch.Tensor]:
    """Keep only the student's weights of a ``SingleTeacherPoseDistiller``
    checkpoint, keyed as ``configs/ivslab/student.py`` expects.

    The teacher, the feature-alignment layers, the optimizer and the message
    hub are dropped; ``meta`` is kept (with the source noted).

    Args:
        src: Distillation checkpoint (``.pth`` written by the runner).
        dst: Where to write the student checkpoint.

    Returns:
        dict: The student state dict that was written.
    """
    # The compat module's allow-listed loader: weights_only stays on.
    ckpt = CheckpointLoader.load_checkpoint(src, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    student = student_state_from_distiller(state)
    meta = dict(ckpt.get('meta', {}) or {})
    meta['converted_from'] = osp.basename(src)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict=student), dst)
    return student
