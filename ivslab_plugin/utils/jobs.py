"""Run library functions side by side, each in its own fresh process with
its output in a log file: how the quickstart and the distillation benchmark
train several models at once on a few cores."""
from __future__ import annotations

import multiprocessing
import os
import os.path as osp
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Sequence


@dataclass
class Job:
    """``func(**kwargs)`` in a spawned process (so each job starts its own
    thread pools), its output written to ``log_path`` and, with ``echo``,
    MMEngine's progress lines echoed with a ``[name]`` prefix. ``func``
    must be importable by name (a module-level function); its return value
    is the exit code (None: 0)."""

    name: str
    func: Callable[..., Optional[int]]
    kwargs: Dict[str, Any]
    log_path: str
    threads: int = 1
    echo: bool = False
    env: Dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0  # wall time, set by run_jobs


def _child(func: Callable[..., Optional[int]], kwargs: Dict[str, Any], log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    try:
        code = func(**kwargs)
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else 1
    except BaseException:  # the log is the job's only report
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def run_jobs(jobs: Sequence[Job], check: bool = True) -> Dict[str, int]:
    """Run jobs concurrently (one process each) and wait for all of them.

    Returns:
        dict: each job's exit code.

    Raises:
        RuntimeError: with ``check``, naming every job that failed and its log.
    """
    ctx = multiprocessing.get_context('spawn')
    running = []
    for job in jobs:
        os.makedirs(osp.dirname(osp.abspath(job.log_path)), exist_ok=True)
        open(job.log_path, 'w').close()
        # Pinned intra-op threads: on a shared 2-core box two OpenMP pools
        # competing made a training step ~15x slower (13 s vs 0.7 s for the
        # student at batch 16). A spawned process takes the environment as
        # it is when started.
        env = dict(PYTHONUNBUFFERED='1', OMP_NUM_THREADS=str(job.threads),
                   MKL_NUM_THREADS=str(job.threads), **job.env)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            proc = ctx.Process(target=_child, args=(job.func, job.kwargs, job.log_path),
                               name=job.name)
            proc.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        tail = threading.Thread(target=_follow, args=(proc, job, time.time()), daemon=True)
        tail.start()
        running.append((job, proc, tail))
    failed, codes = [], {}
    for job, proc, tail in running:
        proc.join()
        tail.join()
        codes[job.name] = proc.exitcode
        if proc.exitcode:
            failed.append(f'{job.name} ({job.func.__name__}), see {job.log_path}')
    if failed and check:
        raise RuntimeError('failed: ' + '; '.join(failed))
    return codes


def _follow(proc, job: Job, start: float) -> None:
    """Echo the job's progress lines while it runs; time it."""
    pending = ''
    with open(job.log_path, errors='replace') as log:
        while True:
            alive = proc.is_alive()
            *lines, pending = (pending + log.read()).split('\n')
            for line in lines:
                # MMEngine's progress lines, not every warning
                if job.echo and ('mmengine - INFO' in line or 'Error' in line):
                    print(f'[{job.name}] {line}', flush=True)
            if not alive:
                break
            time.sleep(0.5)
    proc.join()
    job.seconds = time.time() - start
