"""A frozen teacher distils into a student pose estimator (MMRazor's
``SingleTeacherDistill`` shape, as a plain MMPose model)."""
from __future__ import annotations

import math
import os.path as osp
import warnings
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from mmengine.runner.checkpoint import load_checkpoint
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, SampleList
from torch import Tensor

from ...utils import shipped_config


def resolve_config_path(path: str) -> Config:
    """Load a config given as ``pkg::rel/path.py``, an existing path, or a
    path relative to the shipped ``configs/`` folder (``ivslab/teacher.py``)."""
    if '::' in path:
        from mmengine.hub import get_config
        return get_config(path)
    candidates = [path, shipped_config(path)]
    for candidate in candidates:
        if osp.isfile(candidate):
            return Config.fromfile(candidate)
    raise FileNotFoundError(f'teacher config {path!r} not found (tried {candidates})')


def without_pretrained(cfg: Any) -> Any:
    """A copy of a model config without ``init_cfg=dict(type='Pretrained')``
    entries: a random teacher for a smoke test downloads nothing."""
    if isinstance(cfg, dict):
        return type(cfg)({
            k: without_pretrained(v) for k, v in cfg.items()
            if not (k == 'init_cfg' and isinstance(v, dict) and v.get('type') == 'Pretrained')
        })
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(without_pretrained(v) for v in cfg)
    return cfg


def decay_factor(schedule: Dict, progress: float) -> float:
    """Multiplier of the distillation losses at training ``progress`` in [0, 1].

    ``schedule``: ``dict(type='constant')``, or ``type='linear'`` / ``'cosine'``
    decaying from 1 to ``min_ratio`` (default 0) over the whole run.
    """
    kind = schedule.get('type', 'constant')
    low = schedule.get('min_ratio', 0.0)
    progress = min(max(progress, 0.0), 1.0)
    if kind == 'constant':
        return 1.0
    if kind == 'linear':
        return 1.0 - (1.0 - low) * progress
    if kind == 'cosine':
        return low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f'unknown distillation decay {kind!r}')


@MODELS.register_module()
class SingleTeacherPoseDistiller(BaseModel):
    """Train a student top-down pose estimator with a frozen teacher.

    Loss = task loss of the student on labelled samples (prefixed
    ``student.``) + logit distillation and, optionally, feature distillation
    on every sample (prefixed ``distill.``), times a decay factor. The teacher
    sees the student's input batch resized to its own input size, so both see
    the same crop and their outputs align in normalised coordinates. Samples
    without labels (all ``keypoint_weights`` zero, e.g. an
    ``IvslabFaceDataset(labelled=False)``) get only the distillation losses.
    ``predict`` and ``tensor`` modes are the student's.

    Args:
        student: Config of the student pose estimator.
        teacher_cfg: Teacher config file: ``pkg::path``, an existing path, or
            a path relative to the repository's ``configs/``.
        teacher_ckpt: Teacher checkpoint (a path or URL), loaded strictly: its
            weights must be those of ``teacher_cfg``'s model. Required unless
            ``allow_random_teacher`` is set; from the command line of any
            MMEngine tool: ``--cfg-options model.teacher_ckpt=PATH``.
        allow_random_teacher: Build the teacher with random weights when no
            ``teacher_ckpt`` is given (a warning is logged). Only for smoke
            tests: distilling from a random teacher is meaningless.
        logit_loss: Config of the logit loss (``LogitDistillLoss``), called
            as ``loss(student_out, teacher_out)``; ``None`` disables it.
        feature_loss: Config of the feature loss (``FeatureDistillLoss``) on
            backbone / neck outputs ``student_feat_index`` and
            ``teacher_feat_index``; ``None`` disables it.
        student_feat_index: Which student feature to distil.
        teacher_feat_index: Which teacher feature to distil from.
        task_loss_weight: Multiplier of the student's own losses.
        distill_decay: Schedule of the distillation weight, see
            :func:`decay_factor`; progress is ``iter / max_iters`` from the
            runner's message hub.
        teacher_input_size: (W, H) fed to the teacher; defaults to the
            teacher config's ``input_size``.
        data_preprocessor: Preprocessor; defaults to the student's.
        init_cfg: Initialisation config.

    Note:
        ``inputs`` are the student's normalised images (B, 3, H_s, W_s).
    """

    def __init__(self,
                 student: ConfigType,
                 teacher_cfg: str,
                 teacher_ckpt: Optional[str] = None,
                 allow_random_teacher: bool = False,
                 logit_loss: OptConfigType = dict(type='LogitDistillLoss'),
                 feature_loss: OptConfigType = None,
                 student_feat_index: int = -1,
                 teacher_feat_index: int = -1,
                 task_loss_weight: float = 1.0,
                 distill_decay: Dict = dict(type='constant'),
                 teacher_input_size: Optional[Sequence[int]] = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        if not teacher_ckpt and not allow_random_teacher:
            # A run without a teacher checkpoint would silently distil from
            # random weights for its whole schedule: refuse before building.
            raise ValueError(
                'SingleTeacherPoseDistiller: no teacher_ckpt given. Pass the '
                "teacher's checkpoint with --cfg-options model.teacher_ckpt=PATH "
                '(or set model.allow_random_teacher=True for a smoke test).')
        student = Config(student) if isinstance(student, dict) else student
        if data_preprocessor is None:
            data_preprocessor = student.get('data_preprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student = MODELS.build(student)

        t_cfg = resolve_config_path(teacher_cfg)
        # The checkpoint replaces every weight, so the teacher's own
        # pretrained initialisation would only be a wasted download.
        self.teacher = MODELS.build(without_pretrained(t_cfg.model))
        if teacher_ckpt:
            # strict: a checkpoint of another network (teacher_cpu.py's for
            # teacher.py, say) would otherwise load in part and leave the
            # rest of the teacher random, with only a logged warning
            try:
                load_checkpoint(self.teacher, teacher_ckpt, map_location='cpu',
                                strict=True, logger='current')
            except RuntimeError as err:
                raise RuntimeError(
                    f'SingleTeacherPoseDistiller: teacher_ckpt {teacher_ckpt} does not '
                    f'match teacher_cfg {teacher_cfg} (set model.teacher_cfg= to the '
                    f'config it was trained with): {err}') from err
        else:
            self.teacher.init_weights()
            msg = ('SingleTeacherPoseDistiller: allow_random_teacher=True and no '
                   'teacher_ckpt, the teacher has RANDOM weights; distillation '
                   'is meaningless')
            warnings.warn(msg)
            print_log(msg, logger='current', level=30)
        # Loaded weights must survive the runner's init_weights() call.
        self.teacher._is_init = True
        self.teacher.requires_grad_(False)
        self.teacher.eval()
        self.teacher_input_size = tuple(teacher_input_size or t_cfg.input_size)
        self._check_channel_order(t_cfg.model, student)

        self.logit_loss = MODELS.build(logit_loss) if logit_loss else None
        self.feature_loss = MODELS.build(feature_loss) if feature_loss else None
        self.student_feat_index = student_feat_index
        self.teacher_feat_index = teacher_feat_index
        self.task_loss_weight = task_loss_weight
        decay_factor(distill_decay, 0.0)  # fail early on a bad schedule
        self.distill_decay = dict(distill_decay)

    @staticmethod
    def _check_channel_order(teacher: Dict, student: Dict) -> None:
        def rgb(cfg: Dict) -> bool:
            return bool((cfg.get('data_preprocessor') or {}).get('bgr_to_rgb', False))

        if rgb(teacher) != rgb(student):
            raise ValueError('teacher and student preprocessors disagree on '
                             'bgr_to_rgb; the teacher reads the student batch')

    def train(self, mode: bool = True) -> 'SingleTeacherPoseDistiller':
        """Set train mode on the student only: the teacher's BatchNorm and
        dropout stay in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[SampleList] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], SampleList, Tensor]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.student.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.student._forward(inputs)
        raise RuntimeError(f'Invalid mode "{mode}"')

    def teacher_inputs(self, inputs: Tensor) -> Tensor:
        """The student batch (B, 3, H_s, W_s), renormalised for the teacher's
        preprocessor and resized to its input size (B, 3, H_t, W_t)."""
        s_pre, t_pre = self.data_preprocessor, self.teacher.data_preprocessor
        if hasattr(s_pre, 'mean') and hasattr(t_pre, 'mean') and not (
                torch.equal(s_pre.mean, t_pre.mean) and torch.equal(s_pre.std, t_pre.std)):
            inputs = (inputs * s_pre.std + s_pre.mean - t_pre.mean) / t_pre.std
        w, h = self.teacher_input_size
        if inputs.shape[-2:] != (h, w):
            inputs = F.interpolate(inputs, size=(h, w), mode='bilinear',
                                   align_corners=False)
        return inputs

    def progress(self) -> float:
        """Fraction of training done, from the runner's message hub (0
        outside a runner)."""
        hub = MessageHub.get_current_instance()
        it, max_iters = hub.get_info('iter'), hub.get_info('max_iters')
        return float(it) / max_iters if it is not None and max_iters else 0.0

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Student task losses on labelled samples + distillation on all.

        Returns:
            dict: the student head's losses as ``student.<name>`` (e.g.
            ``student.loss_kpt``, ``student.acc_pose``) when the batch has
            labelled samples, ``distill.loss_logit`` and ``distill.loss_feat``
            when enabled.
        """
        feats = self.student.extract_feat(inputs)
        losses: Dict[str, Tensor] = {}

        labelled = self._labelled_indices(data_samples)
        if labelled:
            sub_feats, sub_samples = feats, data_samples
            if len(labelled) < len(data_samples):
                idx = torch.as_tensor(labelled, device=inputs.device)
                sub_feats = tuple(f.index_select(0, idx) for f in feats)
                sub_samples = [data_samples[i] for i in labelled]
            task = self.student.head.loss(sub_feats, sub_samples,
                                          train_cfg=self.student.train_cfg)
            for name, value in task.items():
                if 'loss' in name:
                    value = value * self.task_loss_weight
                losses[f'student.{name}'] = value

        with torch.no_grad():
            t_feats = self.teacher.extract_feat(self.teacher_inputs(inputs))
            t_out = self.teacher.head.forward(t_feats) if self.logit_loss else None
        decay = decay_factor(self.distill_decay, self.progress())
        if self.logit_loss is not None:
            s_out = self.student.head.forward(feats)
            losses['distill.loss_logit'] = self.logit_loss(s_out, t_out) * decay
        if self.feature_loss is not None:
            losses['distill.loss_feat'] = self.feature_loss(
                feats[self.student_feat_index], t_feats[self.teacher_feat_index]) * decay
        return losses

    @staticmethod
    def _labelled_indices(data_samples: SampleList) -> List[int]:
        """Samples with at least one keypoint of non-zero target weight."""
        return [
            i for i, d in enumerate(data_samples)
            if float(d.gt_instance_labels.keypoint_weights.sum()) > 0
        ]


def student_state_from_distiller(state_dict: Dict[str, Tensor],
                                 prefix: str = 'student.') -> Dict[str, Tensor]:
    """Keep the student's entries of a distiller state dict, unprefixed (the
    teacher and the losses' alignment layers are dropped)."""
    out = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not out:
        raise KeyError(f'no "{prefix}*" weights: not a distillation checkpoint')
    return out


__all__ = ['SingleTeacherPoseDistiller', 'decay_factor', 'resolve_config_path',
           'student_state_from_distiller', 'without_pretrained']
