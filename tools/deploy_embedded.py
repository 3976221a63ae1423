"""Export a model to an embedded runtime and check parity with PyTorch.

``python tools/deploy_embedded.py CONFIG CHECKPOINT --runtime RUNTIME
--work-dir DIR [--data-root DIR] [--keep-head-fp32]`` (runtimes: ncnn,
onnxruntime, onnxruntime-int8, tflite, tflite-int8); exits 1 when parity or
the INT8 check fails. The work directory is a model for ``tools/demo.py``
and ``tools/run_model.py`` (``--model DIR``) and a device bundle
(``DIR/run_model.py``). See docs/embedded.md.
"""
import argparse
import os
import sys

import ivslab_plugin  # noqa: F401  (compat fixes before mmdeploy)
from ivslab_plugin.deploy.convert.registry import RUNTIMES, missing_packages, targets
from ivslab_plugin.deploy.exports import ParityFaces, export_embedded
from ivslab_plugin.deploy.verify.accuracy import INT8_LIMIT


def main() -> int:
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
            f'{k}: raw {t.parity.raw:g}{" relative" if t.parity.relative else ""}, '
            f'{t.parity.gate} keypoint {t.parity.px:g} px'
            for k, t in targets().items()) + ')')
    parity.add_argument('--parity-tsv', help='check on faces of this TSV '
                        'instead of synthetic faces')
    parity.add_argument('--image-root', help='image root for --parity-tsv')
    parity.add_argument('--num-faces', type=int, default=8)
    parity.add_argument('--skip-parity', action='store_true')
    args = parser.parse_args()

    missing = missing_packages(args.runtime)
    if missing:
        hint = ' (IVSLAB_EXTRAS=requirements/litert.txt make install)' \
            if args.runtime.startswith('tflite') else ''
        parser.error(f'{args.runtime} needs {", ".join(missing)}{hint}')
    for path in (args.config, args.checkpoint):
        if not os.path.isfile(path):
            parser.error(f'file not found: {path}')
    faces = None if args.skip_parity else ParityFaces(args.parity_tsv, args.image_root,
                                                      args.num_faces)
    return export_embedded(args.config, args.checkpoint, args.runtime, args.work_dir,
                           args.data_root, args.num_calib, args.keep_head_fp32,
                           args.int8_limit, args.int8_faces, faces)


if __name__ == '__main__':
    sys.exit(main())
