"""Teacher vs student alone vs distilled students on one dataset and
schedule, over seeds:
``python tools/analysis/kd_benchmark.py WORK_DIR [--data-root DIR | --num-train N
--num-val M] [--epochs E] [--seeds 0 1 2]``. Without ``--data-root`` it writes a
synthetic dataset. The distilled students learn from the labelled faces
(``student_kd``) and, where the data has an unlabelled pool, from that pool
too (``student_kd_pool``). Prints a markdown table per seed, one over the
seeds, and what they show with 95 % intervals over the test faces."""
import argparse
import json
import os.path as osp

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.analysis.kd_benchmark import Plan, format_seeds, format_table, run_seeds
from ivslab_plugin.sample_data.synthetic import write_synthetic_dataset

POOL = 'annotations/ivslab/unlabelled.tsv'


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
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='one run of every model per seed (default: 0 1 2)')
    parser.add_argument('--teacher-ckpt', help='reuse a trained teacher for every seed')
    parser.add_argument('--teacher-epochs', type=int,
                        help='epochs for the teacher only (default: --epochs)')
    parser.add_argument('--teacher-config', default='teacher_cpu.py',
                        help='teacher config in configs/ivslab (teacher.py on a GPU)')
    parser.add_argument('--parallel', action='store_true',
                        help='train independent runs at the same time, one thread each')
    parser.add_argument('--threads', type=int, default=1, help='threads per sequential run')
    parser.add_argument('--unlabelled-ann-file',
                        help=f'TSV (relative to --data-root) of unlabelled faces for '
                        f'student_kd_pool: each of its steps adds them to the same labelled '
                        f'batch as the student alone\'s (default: {POOL} where the data has '
                        'it: tools/build_sample_data.py --unlabelled-step 5)')
    parser.add_argument('--distilled', nargs='+', choices=['student_kd', 'student_kd_pool'],
                        help='distilled students to train (default: both where there is '
                        'an unlabelled pool, else student_kd)')
    parser.add_argument('--source-ratio', type=int, nargs=2, metavar=('LABELLED', 'UNLABELLED'),
                        help='faces per step of each kind for student_kd_pool (default: the '
                        'config\'s, 1 1); the batch follows')
    return parser.parse_args()


if __name__ == '__main__':
    args = parse_args()
    work_dir = osp.abspath(args.work_dir)
    data_root = args.data_root
    if data_root is None:
        data_root = osp.join(work_dir, 'data')
        write_synthetic_dataset(data_root, num_train=args.num_train, num_val=args.num_val,
                                seed=0, size=(args.image_size, args.image_size))
    pool = args.unlabelled_ann_file or (POOL if osp.isfile(osp.join(data_root, POOL)) else None)
    distilled = args.distilled or (['student_kd', 'student_kd_pool'] if pool else ['student_kd'])
    if not pool:
        print(f'no unlabelled pool ({osp.join(data_root, POOL)}): student_kd only')
    plan = Plan(work_dir, osp.abspath(data_root), args.epochs, args.batch_size, args.seeds[0],
                args.warmup_iters, args.teacher_config, args.teacher_epochs,
                args.teacher_ckpt, args.parallel, args.threads, echo=True,
                unlabelled_ann_file=pool, source_ratio=args.source_ratio,
                distilled=distilled)
    runs = run_seeds(plan, args.seeds)
    for seed, results in runs.items():
        print(f'\nseed {seed}\n\n{format_table(results)}')
    table = format_seeds(runs)
    print(f'\nover seeds {" ".join(map(str, args.seeds))}\n\n{table}')
    with open(osp.join(work_dir, 'seeds.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(work_dir, 'seeds.json'), 'w') as f:
        json.dump(runs, f, indent=1)
