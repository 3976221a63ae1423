"""Teacher vs student alone vs distilled student on one dataset and schedule:
``python tools/analysis/kd_benchmark.py WORK_DIR [--data-root DIR | --num-train N
--num-val M] [--epochs E]``. Without ``--data-root`` it writes a synthetic
dataset. Prints a markdown table and the share of the NME gap closed."""
import argparse
import os.path as osp

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.apis.kd_benchmark import Plan, format_table, run_benchmark
from ivslab_plugin.datasets.synthetic import write_synthetic_dataset


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('work_dir')
    parser.add_argument('--data-root', help='ivslab-layout data; default: synthetic')
    parser.add_argument('--num-train', type=int, default=512)
    parser.add_argument('--num-val', type=int, default=128)
    parser.add_argument('--image-size', type=int, default=160)
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--warmup-iters', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--teacher-ckpt', help='reuse a trained teacher')
    parser.add_argument('--teacher-epochs', type=int,
                        help='epochs for the teacher only (default: --epochs)')
    parser.add_argument('--teacher-config', default='teacher_cpu.py',
                        help='teacher config in configs/ivslab (teacher.py on a GPU)')
    parser.add_argument('--parallel', action='store_true',
                        help='train the teacher and the student alone at the same time')
    parser.add_argument('--threads', type=int, default=1, help='threads per sequential run')
    parser.add_argument('--unlabelled-ann-file',
                        help='TSV (relative to --data-root) of unlabelled faces that the '
                        'distilled student also trains on: each of its steps adds them '
                        'to the same labelled batch as the student alone\'s (e.g. '
                        'annotations/ivslab/unlabelled.tsv from '
                        'tools/build_sample_data.py --unlabelled-step 5)')
    parser.add_argument('--source-ratio', type=int, nargs=2, metavar=('LABELLED', 'UNLABELLED'),
                        help='faces per step of each kind with --unlabelled-ann-file '
                        '(default: the config\'s, 1 1); the batch follows')
    return parser.parse_args()


if __name__ == '__main__':
    args = parse_args()
    work_dir = osp.abspath(args.work_dir)
    data_root = args.data_root
    if data_root is None:
        data_root = osp.join(work_dir, 'data')
        write_synthetic_dataset(data_root, num_train=args.num_train, num_val=args.num_val,
                                seed=args.seed, size=(args.image_size, args.image_size))
    plan = Plan(work_dir, osp.abspath(data_root), args.epochs, args.batch_size, args.seed,
                args.warmup_iters, args.teacher_config, args.teacher_epochs,
                args.teacher_ckpt, args.parallel, args.threads, echo=True,
                unlabelled_ann_file=args.unlabelled_ann_file, source_ratio=args.source_ratio)
    print(format_table(run_benchmark(plan)))
