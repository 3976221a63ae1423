"""How many faces and landmarks fall outside a config's crop.

A top-down model sees only its crop: ``GetBBoxCenterScale`` pads the face
box, ``RandomBBoxTransform`` shifts, scales and rotates it during training,
``TopdownAffine`` warps it to the input size. A landmark outside the crop
cannot be predicted by a heatmap or SimCC head, and in training its target is
clipped or, when its whole Gaussian lies outside, weighted 0 by the codec.

:func:`crop_coverage` runs MMPose's own transforms, built from the config's
pipelines, on an annotation file's boxes and landmarks (no images needed),
so the counts follow MMPose's sampling exactly (truncated normal shift,
scale and rotation with their probabilities), and its codec's
``keypoint_weights`` give the number of zero-weighted targets.
"""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Sequence

import numpy as np

from ..datasets.tsv import LandmarkRecord

#: The transforms that move the crop or encode targets; the rest of a
#: pipeline only changes pixels. ``RandomFlip`` is left out as well: it
#: mirrors the box and the landmarks together, and the shift and rotation
#: ranges are symmetric, so it changes no count.
GEOMETRY_TRANSFORMS = ('GetBBoxCenterScale', 'RandomBBoxTransform',
                       'TopdownAffine', 'GenerateTarget')


@dataclass
class Coverage:
    """Counts for one pipeline on one annotation file.

    Attributes:
        name (str): which pipeline (``'test'``, ``'train'``, ...).
        padding (float): ``GetBBoxCenterScale`` padding used.
        augmentation (str): the ``RandomBBoxTransform`` settings, or ``''``.
        faces (int): faces in the file.
        crops (int): crops drawn (``faces * draws``).
        landmarks (int): landmarks in all crops.
        crops_out (int): crops with at least one landmark outside.
        landmarks_out (int): landmarks outside their crop.
        zero_weight (int, optional): landmarks whose target the codec
            weights 0; ``None`` when the pipeline has no ``GenerateTarget``.
        lines_out (list[int]): annotation lines of the faces with a
            landmark outside at least once.
    """

    name: str
    padding: float
    augmentation: str
    faces: int
    crops: int
    landmarks: int
    crops_out: int = 0
    landmarks_out: int = 0
    zero_weight: Optional[int] = None
    lines_out: List[int] = field(default_factory=list)

    @property
    def crops_out_share(self) -> float:
        return self.crops_out / max(self.crops, 1)

    @property
    def landmarks_out_share(self) -> float:
        return self.landmarks_out / max(self.landmarks, 1)


def _type_name(transform: dict) -> str:
    return str(transform.get('type', '')).split('.')[-1]


def geometry_pipeline(pipeline: Sequence[dict],
                      padding: Optional[float] = None) -> List[dict]:
    """The geometric part of a top-down pipeline (see
    :data:`GEOMETRY_TRANSFORMS`), optionally with another box padding.

    Raises:
        ValueError: when the pipeline has no ``GetBBoxCenterScale`` or no
            ``TopdownAffine`` (not a top-down pipeline).
    """
    kept = [copy.deepcopy(dict(t)) for t in pipeline
            if _type_name(t) in GEOMETRY_TRANSFORMS]
    names = [_type_name(t) for t in kept]
    for needed in ('GetBBoxCenterScale', 'TopdownAffine'):
        if needed not in names:
            raise ValueError(f'the pipeline has no {needed}: not a top-down '
                             f'pipeline (transforms: '
                             f'{[_type_name(t) for t in pipeline]})')
    if padding is not None:
        for t in kept:
            if _type_name(t) == 'GetBBoxCenterScale':
                t['padding'] = padding
    return kept


def describe_augmentation(pipeline: Sequence[dict]) -> str:
    """``RandomBBoxTransform``'s settings with MMPose's defaults filled in,
    e.g. ``'scale 0.75-1.25, shift 0.16 (p 0.3), rotate 30 (p 0.6)'``."""
    from mmpose.registry import TRANSFORMS
    for t in pipeline:
        if _type_name(t) == 'RandomBBoxTransform':
            tr = TRANSFORMS.build(dict(t, type='RandomBBoxTransform'))
            lo, hi = tr.scale_factor
            scale = f'scale {lo:g}-{hi:g}'
            if tr.scale_prob < 1:
                scale += f' (p {tr.scale_prob:g})'
            return (f'{scale}, shift {tr.shift_factor:g} '
                    f'(p {tr.shift_prob:g}), rotate {tr.rotate_factor:g} '
                    f'(p {tr.rotate_prob:g})')
    return ''


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    # RandomBBoxTransform draws from numpy's global generator (scipy's
    # truncnorm too): seed it for repeatable counts, then restore it.
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def crop_coverage(records: Sequence[LandmarkRecord],
                  pipeline: Sequence[dict],
                  name: str = 'test',
                  padding: Optional[float] = None,
                  draws: int = 1,
                  seed: int = 0) -> Coverage:
    """Count the landmarks that MMPose's transforms put outside the crop.

    Args:
        records (Sequence[LandmarkRecord]): labelled faces (box + landmarks).
        pipeline (Sequence[dict]): a config's train or test pipeline.
        name (str): a label for the result.
        padding (float, optional): replaces the pipeline's padding.
        draws (int): crops drawn per face (use 1 without random
            transforms).
        seed (int): seed for the random transforms.

    Returns:
        Coverage: the counts.

    Note:
        A landmark is outside when its crop coordinates leave
        ``[0, w] x [0, h]`` of the model input (w, h); the box is the
        record's (4,) xyxy ``bbox`` and the landmarks its (K, 2) keypoints.
    """
    from mmpose.registry import TRANSFORMS

    if draws < 1:
        raise ValueError(f'draws must be >= 1, got {draws}')
    if not records:
        raise ValueError('no faces to measure')
    steps = geometry_pipeline(pipeline, padding)
    transforms = [TRANSFORMS.build(t) for t in steps]
    used_padding = next(float(t.get('padding', 1.25)) for t in steps
                        if _type_name(t) == 'GetBBoxCenterScale')
    num_kpts = len(records[0].keypoints)
    result = Coverage(name, used_padding, describe_augmentation(steps),
                      faces=len(records), crops=len(records) * draws,
                      landmarks=len(records) * draws * num_kpts)
    if any(_type_name(t) == 'GenerateTarget' for t in steps):
        result.zero_weight = 0
    blank = np.zeros((1, 1, 3), dtype=np.uint8)
    with _seeded(seed):
        for rec in records:
            face_out = False
            for _ in range(draws):
                results = dict(
                    img=blank,
                    img_shape=blank.shape[:2],
                    bbox=rec.bbox.reshape(1, 4).astype(np.float32),
                    bbox_score=np.ones(1, dtype=np.float32),
                    keypoints=rec.keypoints.reshape(1, -1, 2).astype(
                        np.float32),
                    keypoints_visible=np.ones((1, num_kpts), np.float32))
                for transform in transforms:
                    results = transform(results)
                w, h = results['input_size']
                pts = results['transformed_keypoints'][0]
                out = ((pts[:, 0] < 0) | (pts[:, 0] > w) | (pts[:, 1] < 0)
                       | (pts[:, 1] > h))
                result.landmarks_out += int(out.sum())
                result.crops_out += int(out.any())
                face_out |= bool(out.any())
                if result.zero_weight is not None:
                    weights = np.asarray(results['keypoint_weights'])[0]
                    result.zero_weight += int((weights <= 0).sum())
            if face_out:
                result.lines_out.append(rec.line_no)
    return result


def config_pipelines(cfg) -> List[tuple]:
    """``(name, pipeline)`` for a config's test pipeline, its training
    pipeline and, when a ``PipelineSwitchHook`` switches it, the training
    pipeline of the last epochs (``'train (stage 2)'``).

    Args:
        cfg (mmengine.Config): a top-down model config.
    """
    def dataset_pipeline(loader: str) -> Optional[list]:
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        while 'pipeline' not in dataset and 'dataset' in dataset:
            dataset = dataset['dataset']
        return dataset.get('pipeline')

    test = dataset_pipeline('test_dataloader')
    train = dataset_pipeline('train_dataloader')
    if test is None or train is None:
        raise ValueError('the config has no test_dataloader.dataset.pipeline'
                         ' or train_dataloader.dataset.pipeline')
    pipelines = [('test', test), ('train', train)]
    for hook in cfg.get('custom_hooks') or []:
        if str(hook.get('type', '')).endswith('PipelineSwitchHook'):
            pipelines.append(('train (stage 2)', hook['switch_pipeline']))
    return pipelines


def format_coverage(rows: Sequence[Coverage]) -> str:
    """A Markdown table of :class:`Coverage` rows."""
    lines = [
        '| pipeline | padding | box augmentation | faces | crops | crops '
        'losing a landmark | landmarks outside | zero-weighted targets |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for r in rows:
        zero = '-' if r.zero_weight is None else \
            f'{r.zero_weight} ({100 * r.zero_weight / r.landmarks:.3f} %)'
        lines.append(
            f'| {r.name} | {r.padding:g} | {r.augmentation or "-"} | '
            f'{r.faces} | {r.crops} | {r.crops_out} '
            f'({100 * r.crops_out_share:.2f} %) | {r.landmarks_out} '
            f'({100 * r.landmarks_out_share:.3f} %) | {zero} |')
    return '\n'.join(lines)


def check_limits(rows: Sequence[Coverage],
                 max_test_faces: Optional[float] = None,
                 max_train_landmarks: Optional[float] = None) -> List[str]:
    """The limits a set of rows breaks, as messages (empty when none).

    Args:
        max_test_faces (float, optional): % of faces that may lose a
            landmark in the test crop.
        max_train_landmarks (float, optional): % of landmarks that may fall
            outside the training crops (every training pipeline).
    """
    problems = []
    for r in rows:
        if r.name == 'test' and max_test_faces is not None and \
                100 * r.crops_out_share > max_test_faces:
            problems.append(
                f'padding {r.padding:g}: {r.crops_out} of {r.faces} faces '
                f'({100 * r.crops_out_share:.2f} %) lose a landmark in the '
                f'test crop, limit {max_test_faces:g} %')
        if r.name.startswith('train') and max_train_landmarks is not None \
                and 100 * r.landmarks_out_share > max_train_landmarks:
            problems.append(
                f'{r.name}, padding {r.padding:g}: {r.landmarks_out} of '
                f'{r.landmarks} landmarks ({100 * r.landmarks_out_share:.3f}'
                f' %) fall outside the training crops, limit '
                f'{max_train_landmarks:g} %')
    return problems
