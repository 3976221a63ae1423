"""Command lines of ``tools/deploy.py``, ``tools/demo.py`` and
``tools/run_model.py`` (the scripts only call these)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

from .infer.pipeline import (
    HAAR_TO_TSV,
    BoxTransform,
    FaceDetector,
    FaceLandmarkPipeline,
    HaarFaceDetector,
    MMDetFaceDetector,
    ShortThenFull,
    default_detector,
)
from .verify.accuracy import INT8_LIMIT


def _add_backend_args(parser: argparse.ArgumentParser,
                      model_required: bool = True) -> None:
    parser.add_argument(
        '--model', required=model_required,
        default=os.environ.get('IVSLAB_MODEL'),
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


def _add_detector_args(parser: argparse.ArgumentParser) -> None:
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


def build_detector(args: argparse.Namespace) -> FaceDetector:
    if bool(args.det_config) != bool(args.det_checkpoint):
        raise SystemExit('give both --det-config and --det-checkpoint')
    if args.det_config:
        detector: FaceDetector = MMDetFaceDetector(
            args.det_config, args.det_checkpoint, args.device,
            args.det_score_thr, args.det_labels)
    elif args.haar or args.haar_cascade:
        detector = HaarFaceDetector(args.haar_cascade)
    else:
        detector = default_detector(log=lambda m: print(m, file=sys.stderr))
    if args.box_transform:
        if isinstance(detector, ShortThenFull):
            raise SystemExit('--box-transform fits one detector, and the default '
                             'runs two BlazeFace models: give it with --haar or '
                             '--det-config')
        detector.box_transform = BoxTransform(*args.box_transform)
    return detector


def build_pipeline(args: argparse.Namespace) -> FaceLandmarkPipeline:
    from .infer.backends import build_backend
    backend = build_backend(args.model, args.config, args.deploy_config,
                            args.device, sdk=args.sdk)
    return FaceLandmarkPipeline(backend, build_detector(args))


def deploy_main(argv: Optional[List[str]] = None) -> int:
    """Export, then check parity against PyTorch; 1 when parity fails."""
    from .configs import deploy_config_path, load_cfg
    from .convert.mmdeploy import export_model
    from .infer.backends import TorchBackend, build_backend
    from .verify.parity import (
        P99_MAX_PX_BOUND,
        SDK_P99_PX_TOL,
        TOLERANCES,
        check_parity,
        synthetic_samples,
        tsv_samples,
    )

    parser = argparse.ArgumentParser(
        description='Export a landmark model with MMDeploy (ONNX Runtime, '
        'SDK) and check it against PyTorch')
    parser.add_argument('config', help='model config')
    parser.add_argument('checkpoint', help='model checkpoint (.pth)')
    parser.add_argument('--work-dir', required=True, help='output directory')
    parser.add_argument('--deploy-config', help='a deploy config; by default '
                        'chosen from configs/ivslab/deploy by head type and '
                        'the flags below')
    parser.add_argument('--precision', choices=['fp32', 'fp16'],
                        default='fp32')
    parser.add_argument('--dynamic', action='store_true',
                        help='dynamic batch size')
    parser.add_argument('--sdk', action='store_true',
                        help='also write the MMDeploy SDK files')
    parser.add_argument('--device', default='cpu')
    parity = parser.add_argument_group('parity check')
    parity.add_argument('--parity-tsv', help='check on faces of this TSV '
                        '(e.g. the validation split) instead of synthetic '
                        'faces')
    parity.add_argument('--image-root', help='image root for --parity-tsv')
    parity.add_argument('--num-faces', type=int, default=8)
    parity.add_argument('--raw-tol', type=float,
                        help='max |raw output diff|, absolute for fp32, '
                        'relative to max |output| for fp16 (default: '
                        + ', '.join(f'{k} {v[0]}' for k, v in
                                    TOLERANCES.items()) + ')')
    parity.add_argument('--px-tol', type=float,
                        help='keypoint diff in pixels, on the max for fp32 and '
                        'on the 99th percentile for fp16 (default by precision: ' + ', '.join(
                            f'{k} {v[1]}' for k, v in TOLERANCES.items()) + ')')
    parity.add_argument('--sdk-px-tol', type=float, default=SDK_P99_PX_TOL,
                        help='max 99th-percentile keypoint diff of the SDK, pixels (the max '
                        'is bounded by %g px)' % P99_MAX_PX_BOUND)
    parity.add_argument('--skip-parity', action='store_true')
    args = parser.parse_args(argv)

    model_cfg = load_cfg(args.config)
    deploy_cfg = args.deploy_config or deploy_config_path(
        model_cfg, args.precision, args.dynamic, args.sdk)
    start = time.perf_counter()
    result = export_model(model_cfg, args.checkpoint, args.work_dir,
                          deploy_cfg, args.device,
                          dump_info=True if args.sdk else None)
    print(f'exported with {deploy_cfg} in '
          f'{time.perf_counter() - start:.1f} s:')
    for path in result.backend_files:
        print(f'  {path} ({os.path.getsize(path) / 2**20:.2f} MiB)')
    if result.sdk_dir:
        print(f'  SDK directory: {result.sdk_dir}')
    for note in result.notes:
        print(f'  note: {note}')
    precision = load_cfg(deploy_cfg).backend_config.get('precision', 'fp32')
    if precision == 'fp32' and not load_cfg(deploy_cfg).onnx_config.get('dynamic_axes'):
        from .convert.bundle import write_bundle
        print(f'  device bundle: {write_bundle(model_cfg, result.backend_files[0])}'
              '/run_model.py')
    if args.skip_parity:
        return 0

    raw_tol = args.raw_tol if args.raw_tol is not None else \
        TOLERANCES[precision][0]
    px_tol = args.px_tol if args.px_tol is not None else \
        TOLERANCES[precision][1]
    if args.parity_tsv:
        samples = tsv_samples(args.parity_tsv, args.image_root,
                              args.num_faces)
    else:
        samples = synthetic_samples(max(1, args.num_faces // 2))
    reference = TorchBackend(model_cfg, args.checkpoint, args.device,
                             flip_test=False)
    backends = [build_backend(result.backend_files[0], device=args.device)]
    if result.sdk_dir:
        backends.append(build_backend(result.sdk_dir, device=args.device, sdk=True))
    ok = True
    for backend in backends:
        sdk = backend.name == 'sdk'
        report = check_parity(reference, backend, samples, raw_tol,
                              args.sdk_px_tol if sdk else px_tol,
                              gate_on_p99=sdk or precision == 'fp16',
                              max_bound=P99_MAX_PX_BOUND,
                              raw_relative=precision == 'fp16')
        print('\n'.join(report.lines()))
        ok &= report.passed
    return 0 if ok else 1


def demo_main(argv: Optional[List[str]] = None) -> int:
    from .infer.demo import LandmarkDrawer
    from .lite.demo import run_demo
    parser = argparse.ArgumentParser(
        description='Detect faces and draw their 51 landmarks on an image, '
        'a folder of images or a video; also writes results.json')
    parser.add_argument('input', help='image, folder of images, or video')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--kpt-thr', type=float, default=float('-inf'),
                        help='hide keypoints scoring below this')
    _add_backend_args(parser)
    _add_detector_args(parser)
    args = parser.parse_args(argv)
    pipeline = build_pipeline(args)
    results = run_demo(pipeline, args.input, args.out_dir,
                       drawer=LandmarkDrawer(kpt_thr=args.kpt_thr).draw)
    return 0 if results else 1


def run_model_main(argv: Optional[List[str]] = None) -> int:
    from .infer.submission import boxes_from_tsv
    from .lite.submission import read_image_list, write_submission
    parser = argparse.ArgumentParser(
        description='Write the challenge submission: one .pts-format .txt '
        'per image (51 points per face, right-most face first)')
    parser.add_argument('image_list', help='text file, one image per line')
    parser.add_argument('output_dir')
    parser.add_argument('--tsv', help='use the face boxes of this TSV '
                        '(test_q.tsv) instead of a detector')
    parser.add_argument('--image-root', help='image root for --tsv paths')
    parser.add_argument('--multi-face', metavar='TEST_Q_TXT',
                        help='with --tsv: ids of images holding more faces than '
                        'their rows (test_q.txt); the detector adds the faces '
                        'the TSV lacks, and all are written right-most first')
    _add_backend_args(parser, model_required=False)
    _add_detector_args(parser)
    args = parser.parse_args(argv)
    if not args.model:
        parser.error('give --model (or set IVSLAB_MODEL)')
    images = read_image_list(args.image_list)
    pipeline = build_pipeline(args)
    if args.multi_face and not args.tsv:
        parser.error('--multi-face needs --tsv')
    tsv_boxes = boxes_from_tsv(args.tsv, args.image_root,
                               multi_face=args.multi_face) if args.tsv else None
    start = time.perf_counter()
    summary = write_submission(pipeline, images, args.output_dir, tsv_boxes,
                               log=lambda m: print(m, file=sys.stderr))
    elapsed = time.perf_counter() - start
    faces = sum(summary.faces.values())
    print(f'wrote {len(summary.files)} files ({faces} faces) to '
          f'{args.output_dir} in {elapsed:.1f} s '
          f'({1000 * elapsed / len(images):.1f} ms/image)')
    for path in summary.no_face:
        print(f'no face found in {path}: wrote the central-square fallback',
              file=sys.stderr)
    if summary.failed:
        print(f'{len(summary.failed)} of {len(images)} images failed',
              file=sys.stderr)
        return 1
    return 0


def deploy_embedded_main(argv: Optional[List[str]] = None) -> int:
    """Export to an embedded runtime, then check INT8 accuracy and parity
    against PyTorch; 1 when either fails."""
    from .configs import load_cfg
    from .convert.registry import RUNTIMES, export_runtime, missing_packages, model_files
    from .data import calibration_crops
    from .infer.backends import TorchBackend, build_backend
    from .verify.parity import (
        RUNTIME_TOLERANCES,
        check_bundle_parity,
        check_runtime_parity,
        synthetic_samples,
        tsv_samples,
    )

    parser = argparse.ArgumentParser(
        description='Export a landmark model to ncnn, LiteRT (TFLite) or '
        'INT8 (ONNX Runtime, TFLite) and check it against PyTorch')
    parser.add_argument('config', help='model config')
    parser.add_argument('checkpoint', help='model checkpoint (.pth)')
    parser.add_argument('--runtime', required=True, choices=RUNTIMES)
    parser.add_argument('--work-dir', required=True, help='output directory')
    int8 = parser.add_argument_group('INT8 calibration')
    int8.add_argument('--data-root', help='dataset root whose training split '
                      'calibrates (default: the config\'s data_root)')
    int8.add_argument('--num-calib', type=int, default=128,
                      help='calibration faces')
    int8.add_argument('--keep-head-fp32', action='store_true',
                      help='leave the head unquantized')
    int8.add_argument('--int8-limit', type=float, default=INT8_LIMIT,
                      help='refuse (exit 1) an INT8 export whose NME_pupil on '
                      'the test split is more than this fraction above the '
                      'fp32 export\'s (default %(default)s)')
    int8.add_argument('--int8-faces', type=int,
                      help='measure on the first N test faces (default: all)')
    parity = parser.add_argument_group(
        'parity check (tolerances per runtime: ' + ', '.join(
            f'{k}: raw {v[0]:g}{" relative" if v[1] else ""}, '
            f'{v[3]} keypoint {v[2]:g} px'
            for k, v in RUNTIME_TOLERANCES.items()) + ')')
    parity.add_argument('--parity-tsv', help='check on faces of this TSV '
                        'instead of synthetic faces')
    parity.add_argument('--image-root', help='image root for --parity-tsv')
    parity.add_argument('--num-faces', type=int, default=8)
    parity.add_argument('--skip-parity', action='store_true')
    args = parser.parse_args(argv)

    missing = missing_packages(args.runtime)
    if missing:
        hint = ' (IVSLAB_EXTRAS=requirements/litert.txt make install)' \
            if args.runtime.startswith('tflite') else ''
        parser.error(f'{args.runtime} needs {", ".join(missing)}{hint}')
    for path in (args.config, args.checkpoint):
        if not os.path.isfile(path):
            parser.error(f'file not found: {path}')
    model_cfg = load_cfg(args.config)
    crops = None
    if args.runtime.endswith('-int8'):
        crops = calibration_crops(model_cfg, args.data_root, args.num_calib)
        print(f'calibrating on {len(crops)} training faces')
    start = time.perf_counter()
    path = export_runtime(args.runtime, model_cfg, args.checkpoint,
                          args.work_dir, crops, args.keep_head_fp32)
    print(f'exported {args.runtime} in {time.perf_counter() - start:.1f} s:')
    for f in model_files(path):
        print(f'  {f} ({os.path.getsize(f) / 1e6:.3f} MB)')
    print(f'  device bundle: {os.path.join(args.work_dir, "run_model.py")}')
    ok = True
    if args.runtime.endswith('-int8'):
        from .convert.registry import make_runner
        from .verify.accuracy import check_int8
        fp32 = next(f for ext in ('.onnx', '.tflite') for f in sorted(
            os.listdir(os.path.join(args.work_dir, 'fp32'))) if f.endswith(ext))
        check = check_int8(make_runner(os.path.join(args.work_dir, 'fp32', fp32)),
                           make_runner(path), model_cfg, args.data_root,
                           args.int8_limit, max_faces=args.int8_faces)
        print(check.line())
        ok = check.passed
    if args.skip_parity:
        return 0 if ok else 1
    samples = tsv_samples(args.parity_tsv, args.image_root, args.num_faces) \
        if args.parity_tsv else synthetic_samples(max(1, args.num_faces // 2))
    reference = TorchBackend(model_cfg, args.checkpoint, flip_test=False)
    backend = build_backend(args.work_dir)
    report = check_runtime_parity(reference, backend, samples, args.runtime)
    print('\n'.join(report.lines()))
    bundle = check_bundle_parity(backend, args.work_dir, samples)
    print('\n'.join(bundle.lines()))
    return 0 if ok and report.passed and bundle.passed else 1
