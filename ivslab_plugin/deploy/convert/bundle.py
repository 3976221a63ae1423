"""Make an export folder run on its own: the device code, a spec and a
launcher beside the model.

After :func:`write_bundle`, ``DIR/run_model.py image_list.txt out_dir``
runs where only numpy, opencv-python-headless and the model's runtime are
installed: ``DIR/ivslab_lite/`` is a copy of :mod:`ivslab_plugin.deploy.lite`
(the code the tests run in place), ``DIR/landmarks.json`` says how to crop
and decode (from the model config, so no config is parsed on the device),
and ``DIR/detector/`` holds BlazeFace when it is in the cache.
"""
from __future__ import annotations

import os
import os.path as osp
import shutil
from typing import Dict, Optional, Union

from mmengine.config import Config

from ivslab_plugin.datasets.tsv import SCALE_MARGIN
from ivslab_plugin.evaluation.face_metric import NORMALISERS

from .. import lite
from ..assets import cached_blazeface
from ..lite.detect import BLAZEFACE_TO_TSV
from ..lite.runtimes import RUNNERS, runtime_of
from ..lite.spec import SPEC_NAME, write_spec
from ..model import DeployModel

LITE_DIR = 'ivslab_lite'
#: The bundle's command line, copied in as ``run_model.py`` (argument
#: parsing lives there, not in the device code).
LAUNCHER = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'bundle_files',
                    'run_model.py')

#: Pupil (eye-centroid) indices by markup size, for the jitter figure.
_PUPILS = {51: NORMALISERS['ivslab']['pupil'], 68: NORMALISERS['300w']['pupil'],
           98: NORMALISERS['wflw']['pupil'], 29: NORMALISERS['cofw']['pupil']}


def codec_spec(codec: Dict) -> Dict:
    """The decoding part of the spec, from the head's codec."""
    if codec is None:
        raise ValueError('the model config has no codec (head.decoder)')
    if codec['type'] == 'MSRAHeatmap':
        return dict(type='heatmap', heatmap_size=list(codec['heatmap_size']),
                    unbiased=bool(codec.get('unbiased', False)),
                    blur_kernel_size=int(codec.get('blur_kernel_size', 11)))
    if codec['type'] == 'SimCCLabel':
        if codec.get('use_dark', False):
            raise ValueError('SimCC with DARK decoding is not supported on '
                             'the device; export a model with use_dark=False')
        return dict(type='simcc', split_ratio=float(codec.get('simcc_split_ratio', 2.0)))
    raise ValueError(f'codec {codec["type"]!r} has no device decoder (use '
                     'MSRAHeatmap or SimCCLabel)')


def bundle_spec(model_cfg: Union[str, Config, DeployModel], model_file: str) -> Dict:
    """The ``landmarks.json`` content for a model file exported from a
    config (paths relative to the model file's folder)."""
    model = DeployModel.of(model_cfg)
    pre = model.network.data_preprocessor
    k = model.num_keypoints
    return dict(
        model=osp.basename(model_file), runtime=runtime_of(model_file),
        input_size=list(model.input_size), mean=[float(v) for v in pre.mean],
        std=[float(v) for v in pre.std], bgr_to_rgb=bool(pre.get('bgr_to_rgb', False)),
        bbox_padding=model.padding, codec=codec_spec(model.codec), num_keypoints=k,
        box_margin=SCALE_MARGIN,
        pupil_indices=[list(map(int, idx)) for idx in _PUPILS[k]] if k in _PUPILS else None)


def write_bundle(model_cfg: Union[str, Config, DeployModel], model_file: str,
                 detector: Optional[str] = 'auto') -> str:
    """Turn the folder of an exported model file into a bundle.

    Args:
        model_cfg (str | Config): the config the model was exported from.
        model_file (str): the ``.tflite``, ``.onnx`` or ``.ncnn.param`` file.
        detector (str, optional): the default BlazeFace variant (``'auto'``:
            short range, full range too where faces are small or absent;
            ``'full'`` or ``'short'``); both models are shipped when they
            are in the cache (``python -m ivslab_plugin.deploy.assets``).
            None ships none; without them the bundle uses OpenCV's Haar
            cascade.

    Returns:
        str: the bundle folder.
    """
    out = osp.dirname(osp.abspath(model_file))
    spec = bundle_spec(model_cfg, model_file)
    src = osp.dirname(lite.__file__)
    dst = osp.join(out, LITE_DIR)
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    for name in sorted(os.listdir(src)):
        if name.endswith('.py'):
            shutil.copyfile(osp.join(src, name), osp.join(dst, name))
    files, transforms = {}, {}
    for variant in (BLAZEFACE_TO_TSV if detector else ()):
        path = cached_blazeface(variant)
        if path:
            os.makedirs(osp.join(out, 'detector'), exist_ok=True)
            files[variant] = osp.join('detector', osp.basename(path))
            shutil.copyfile(path, osp.join(out, files[variant]))
            t = BLAZEFACE_TO_TSV[variant]
            transforms[variant] = [t.scale, t.shift_x, t.shift_y]
    if files:
        usable = detector in files or (detector == 'auto' and len(files) == 2)
        spec['detector'] = dict(type='blazeface', files=files,
                                variant=detector if usable else next(iter(files)),
                                iou_thr=0.3, box_transforms=transforms)
    write_spec(spec, osp.join(out, SPEC_NAME))
    launcher = osp.join(out, 'run_model.py')
    with open(LAUNCHER, encoding='utf-8') as f:
        text = f.read().replace('RUNTIME_PACKAGE', RUNNERS[spec['runtime']].package)
    with open(launcher, 'w', encoding='utf-8') as f:
        f.write(text)
    os.chmod(launcher, 0o755)
    return out
