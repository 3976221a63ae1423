"""Build the offline real-face sample dataset (dlib pseudo-labels).

    python tools/build_sample_data.py [--out data/sample] [--video-step 10]
        [--unlabelled-step 5]   # + annotations/ivslab/unlabelled.tsv for distillation
"""
import argparse

import ivslab_plugin  # noqa: F401
from ivslab_plugin.sample_data.builder import SOURCES, build_sample_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--out', default='data/sample')
    parser.add_argument('--cache-dir', help='where source packages are kept '
                        '(default ~/.cache/ivslab-plugin/sources)')
    parser.add_argument('--video-step', type=int, default=10,
                        help='label every n-th video frame')
    parser.add_argument('--unlabelled-step', type=int, default=0,
                        help='also write unlabelled.tsv (boxes only, for distillation) '
                        'from every n-th frame outside train/val/test.tsv; 0: none')
    parser.add_argument('--sources', nargs='+',
                        choices=[s.name for s in SOURCES],
                        default=[s.name for s in SOURCES])
    args = parser.parse_args()
    report = build_sample_dataset(
        args.out, [s for s in SOURCES if s.name in args.sources],
        cache_dir=args.cache_dir, video_step=args.video_step,
        unlabelled_step=args.unlabelled_step)
    print(f'{report.images} images, {report.train_faces} train faces, '
          f'{report.val_faces} val faces (checkpoint selection), '
          f'{report.test_faces} test faces (reported numbers) -> {args.out} '
          f'(per source: {report.per_source}); no face found in '
          f'{len(report.images_without_faces)} images')
    if args.unlabelled_step:
        print(f'{report.unlabelled_faces} unlabelled faces (boxes only) -> '
              f'{args.out}/annotations/ivslab/unlabelled.tsv')
    print(f'labels are dlib pseudo-labels; see {args.out}/SOURCES.md')


if __name__ == '__main__':
    main()
