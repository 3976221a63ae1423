"""Run an exported bundle on emulated aarch64 CPUs (qemu-user) and compare
with the same bundle on this machine: the same faces in the same files,
and on given face boxes the same landmarks within the runtime's parity
gate.

    bash tools/install_arm64.sh          # once: qemu, arm64 Python, wheels
    python tools/arm64_check.py BUNDLE IMAGE_LIST [--boxes TSV] [--cpus ...]

Exit 1 when a CPU finds other faces, fails, or differs beyond the gate on
given boxes. Emulated timings say nothing about a device's speed.
"""
import argparse
import sys
import tempfile

from ivslab_plugin.deploy.lite.spec import load_spec
from ivslab_plugin.deploy.verify.arm64 import CPUS, Arm64Device, check_bundle

#: Given boxes make equal crops, and the network and the decoding then give
#: the same numbers on every CPU (docs/embedded.md, "On ARM"): the fp32
#: parity gate, for every runtime.
GIVEN_BOX_TOL_PX = 0.05


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('bundle')
    parser.add_argument('image_list')
    parser.add_argument('--boxes', metavar='TSV', help="face boxes of the images "
                        "(an annotation TSV's scale and centre columns)")
    parser.add_argument('--cpus', nargs='+', default=list(CPUS), choices=list(CPUS))
    parser.add_argument('--detector', choices=['auto', 'short', 'full', 'haar'])
    parser.add_argument('--detector-tol', type=float, metavar='PX',
                        help="also fail where the bundle's detector gives landmarks "
                        'further than this from this machine\'s (measured on a '
                        'trained student: fp32 0.012 px, INT8 0.64 px)')
    parser.add_argument('--out-dir', help='keep the outputs here')
    parser.add_argument('--device-dir', help='the emulated device (default: the cache)')
    args = parser.parse_args()
    try:
        device = Arm64Device.find(args.device_dir)
        runtime = load_spec(args.bundle)['runtime']
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    out = args.out_dir or tempfile.mkdtemp(prefix='arm64_')
    results = check_bundle(args.bundle, args.image_list, out, args.cpus, args.boxes,
                           device, args.detector)
    print(f'{args.bundle} ({runtime}) on emulated aarch64 against this machine; '
          f'outputs in {out}\n')
    print('| CPU | boxes | files | faces | face count differs | max landmark '
          'difference (px) | verdict |')
    print('|---|---|---|---|---|---|---|')
    failed = False
    for r in results:
        tol = GIVEN_BOX_TOL_PX if r.boxes == 'given boxes' else args.detector_tol
        ok = r.ok(tol)
        failed |= not ok
        verdict = 'ok' if ok else 'FAILED'
        if r.error:
            verdict += f': {r.error}'
        elif tol is not None and r.max_px > tol:
            verdict += f': above {tol} px'
        print(f'| {r.cpu} | {r.boxes} | {r.files} | {r.faces} | '
              f'{", ".join(r.count_differs) or "none"} | {r.max_px:.3f} | {verdict} |')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
