"""Options shared by ``tools/demo.py`` and ``tools/run_model.py``: the
landmark model and the face detector."""
import argparse
import os
import sys

from ivslab_plugin.deploy.infer.backends import build_backend
from ivslab_plugin.deploy.infer.pipeline import HAAR_TO_TSV, FaceLandmarkPipeline, build_detector


def add_model_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        '--model', required=required, default=os.environ.get('IVSLAB_MODEL'),
        help='a .pth checkpoint (with --config), an .onnx file or an export '
        'work dir, or an MMDeploy SDK dir (default: $IVSLAB_MODEL)')
    parser.add_argument('--config', help='model config (needed for .pth; '
                        'read from the export dir otherwise)')
    parser.add_argument('--deploy-config', help='deploy config (.onnx; read '
                        'from the export dir otherwise)')
    parser.add_argument('--sdk', action='store_true',
                        help='run the export dir\'s MMDeploy SDK files '
                        '(pipeline.json) instead of its model file')
    parser.add_argument('--device', default='cpu')
    group = parser.add_argument_group(
        'face detection (default: BlazeFace when it is in the cache, '
        'python -m ivslab_plugin.deploy.assets fetches it; else the Haar '
        'cascade)')
    group.add_argument('--haar', action='store_true',
                       help="OpenCV's Haar cascade instead of BlazeFace")
    group.add_argument('--det-config', help='mmdet detector config')
    group.add_argument('--det-checkpoint', help='mmdet detector checkpoint')
    group.add_argument('--det-score-thr', type=float, default=0.5)
    group.add_argument('--det-labels', type=int, nargs='+',
                       help='keep only these mmdet class ids')
    group.add_argument('--haar-cascade', help='another Haar cascade XML')
    group.add_argument(
        '--box-transform', type=float, nargs=3,
        metavar=('SCALE', 'SHIFT_X', 'SHIFT_Y'),
        help='detector box -> TSV box: side = SCALE * min(w, h), centre '
        'shifted by SHIFT_X * w, SHIFT_Y * h (default: the detector\'s '
        f'measured one; Haar {HAAR_TO_TSV.scale} {HAAR_TO_TSV.shift_x} '
        f'{HAAR_TO_TSV.shift_y})')


def build_pipeline(parser: argparse.ArgumentParser,
                   args: argparse.Namespace) -> FaceLandmarkPipeline:
    """The model and detector the options name (a bad combination is a
    usage error)."""
    try:
        detector = build_detector(
            args.det_config, args.det_checkpoint, args.device, args.det_score_thr,
            args.det_labels, args.haar, args.haar_cascade, args.box_transform,
            log=lambda m: print(m, file=sys.stderr))
    except ValueError as err:
        parser.error(str(err))
    backend = build_backend(args.model, args.config, args.deploy_config, args.device,
                            sdk=args.sdk)
    return FaceLandmarkPipeline(backend, detector)
