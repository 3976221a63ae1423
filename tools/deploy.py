"""Export a model with MMDeploy and check parity with PyTorch.

``python tools/deploy.py CONFIG CHECKPOINT --work-dir DIR [--precision fp16]
[--dynamic] [--sdk]``; exits 1 when the backend disagrees with PyTorch.
"""
import argparse
import sys

import ivslab_plugin  # noqa: F401  (compat fixes before mmdeploy)
from ivslab_plugin.deploy.exports import ParityFaces, export_mmdeploy
from ivslab_plugin.deploy.verify.parity import P99_MAX_PX_BOUND, SDK_P99_PX_TOL, TOLERANCES


def main() -> int:
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
    args = parser.parse_args()
    faces = None if args.skip_parity else ParityFaces(args.parity_tsv, args.image_root,
                                                      args.num_faces)
    return export_mmdeploy(args.config, args.checkpoint, args.work_dir, args.deploy_config,
                           args.precision, args.dynamic, args.sdk, args.device, faces,
                           args.raw_tol, args.px_tol, args.sdk_px_tol)


if __name__ == '__main__':
    sys.exit(main())
