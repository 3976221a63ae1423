"""Train and test runs: a config with the tools' options applied, then
MMEngine's ``Runner`` (what ``tools/train.py`` and ``tools/test.py`` run)."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any, Callable, Dict, Optional, Sequence

from mmengine.config import Config

# Top-level config variables that the _base_ file copies into the
# dataloaders when it is parsed. `--cfg-options data_root=...` only changes
# the variable, so these are forwarded to the datasets explicitly.
DATA_OVERRIDES = {
    'data_root': ('train_dataloader', 'val_dataloader', 'test_dataloader'),
    'train_ann_file': ('train_dataloader', ),
    'val_ann_file': ('val_dataloader', ),
    'test_ann_file': ('test_dataloader', ),
    'unlabelled_ann_file': ('train_dataloader', ),
}
_DATASET_KEYS = {'data_root': 'data_root', 'train_ann_file': 'ann_file',
                 'val_ann_file': 'ann_file', 'test_ann_file': 'ann_file',
                 'unlabelled_ann_file': 'ann_file'}
# Which datasets an option reaches: the annotation files go to the labelled
# (``train_ann_file``) or the unlabelled (``labelled=False``) datasets only,
# so a ConcatDataset of both keeps its two files.
_DATASET_FILTERS = {
    'train_ann_file': lambda d: d.get('labelled', True),
    'unlabelled_ann_file': lambda d: not d.get('labelled', True),
}


def _every_dataset(dataset: Dict) -> bool:
    return True


def _set_dataset_field(dataset: Any, key: str, value: Any,
                       applies: Callable[[Dict], bool] = _every_dataset) -> None:
    """Set ``key`` on a dataset config and on any datasets it wraps (those
    for which ``applies`` holds)."""
    if not isinstance(dataset, dict):
        return
    if 'dataset' in dataset:
        _set_dataset_field(dataset['dataset'], key, value, applies)
    if 'datasets' in dataset:
        for sub in dataset['datasets']:
            _set_dataset_field(sub, key, value, applies)
    if 'dataset' not in dataset and 'datasets' not in dataset and applies(dataset):
        dataset[key] = value


def apply_data_overrides(cfg: Config, options: Optional[Dict]) -> None:
    """Forward ``data_root`` / ``*_ann_file`` options to the dataloaders."""
    for name, loaders in DATA_OVERRIDES.items():
        if not options or name not in options:
            continue
        for loader in loaders:
            if cfg.get(loader):
                _set_dataset_field(cfg[loader]['dataset'], _DATASET_KEYS[name],
                                   options[name], _DATASET_FILTERS.get(name, _every_dataset))


# Short forms of `model.teacher_cfg=` / `model.teacher_ckpt=` kept for older
# commands. The documented form is `model.teacher_ckpt=`, which every MMEngine
# tool (MMPose's tools/train.py, `mim train`) applies the same way.
MODEL_OVERRIDES = ('teacher_cfg', 'teacher_ckpt')


def apply_model_overrides(cfg: Config, options: Optional[Dict]) -> None:
    """Forward ``teacher_cfg`` / ``teacher_ckpt`` options to a distiller."""
    for name in MODEL_OVERRIDES:
        if options and name in options and name in cfg.get('model', {}):
            cfg.model[name] = options[name]


def load_config(config: str, work_dir: Optional[str] = None,
                cfg_options: Optional[Dict] = None, launcher: str = 'none',
                show_dir: Optional[str] = None, interval: int = 1,
                local_rank: int = 0) -> Config:
    """A config file with ``--cfg-options`` applied (the data and teacher
    overrides forwarded), the launcher, the work dir (default
    ``work_dirs/<config name>``) and, with ``show_dir``, drawn predictions
    every ``interval``-th sample."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(local_rank)
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
        apply_data_overrides(cfg, cfg_options)
        apply_model_overrides(cfg, cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    if show_dir:
        vis = cfg.default_hooks.visualization
        vis.enable = True
        vis.out_dir = show_dir
        vis.interval = interval
    return cfg


def enable_tensorboard(cfg: Config) -> Config:
    """Add MMEngine's ``TensorboardVisBackend`` to the visualizer.

    Losses, learning rate and validation metrics then also go to TensorBoard
    event files in ``<work_dir>/<timestamp>/vis_data`` (view them with
    ``tensorboard --logdir <work_dir>``), beside the JSON scalars that the
    ``LocalVisBackend`` keeps writing.

    Raises:
        RuntimeError: the ``tensorboard`` package is not installed (MMEngine
            would only fail at the first logged scalar, asking for
            tensorboardX).
    """
    import importlib.util
    if importlib.util.find_spec('tensorboard') is None:
        raise RuntimeError('--tensorboard needs the tensorboard package: '
                           'pip install tensorboard==2.20.0 (the pin in requirements/tests.txt)')
    visualizer = cfg.get('visualizer')
    if visualizer is None:
        raise ValueError('--tensorboard: the config has no visualizer to add the backend to')
    backends = list(visualizer.get('vis_backends') or [])
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    visualizer.vis_backends = backends
    return cfg


def configure_distributed(cfg: Config) -> None:
    """Choose the distributed backend at run time: NCCL on GPUs, gloo on CPU.

    The configs keep MMPose's ``env_cfg.dist_cfg.backend='nccl'``. Without a
    GPU two more things are needed, both with ``--launcher pytorch``
    (torchrun, tools/dist_train.sh):

    - MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` before
      ``init_process_group`` whatever the backend, which a CPU build of torch
      cannot do (``AttributeError: module 'torch._C' has no attribute
      '_cuda_setDevice'``). The gloo process group is started here instead,
      from torchrun's environment; the runner then sees it and skips
      ``init_dist``.
    - MMEngine wraps the model in DDP with ``device_ids=[LOCAL_RANK]``, which
      DDP refuses for a CPU module: ``device_ids`` is set to None.
    """
    if cfg.get('launcher', 'none') == 'none':
        return
    import torch
    if torch.cuda.is_available():
        return
    if cfg.launcher != 'pytorch':
        raise RuntimeError(
            f'distributed training on CPU needs --launcher pytorch (torchrun, '
            f'tools/dist_train.sh), not --launcher {cfg.launcher}')
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    import torch.distributed as dist
    if not dist.is_initialized():
        kwargs = {}
        if dist_cfg.get('timeout') is not None:
            import datetime
            kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
        dist.init_process_group(backend='gloo', **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def train_config(cfg: Config, resume: Optional[str] = None, amp: bool = False,
                 validate: bool = True, auto_scale_lr: bool = False,
                 tensorboard: bool = False) -> Config:
    """The training options on a config: ``resume`` a checkpoint (``'auto'``:
    the latest in the work dir), mixed precision, no validation, the lr
    scaled with the batch, TensorBoard logging."""
    if not validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    if auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if tensorboard:
        enable_tensorboard(cfg)
    return cfg


def train(cfg: Config) -> None:
    """Train with MMEngine's runner (gloo on a CPU-only torchrun)."""
    from mmengine.runner import Runner
    configure_distributed(cfg)
    Runner.from_cfg(cfg).train()


def test(cfg: Config, checkpoint: str, out: Optional[str] = None,
         dump: Optional[str] = None) -> Dict[str, float]:
    """Test a checkpoint; print the metrics, and save them as JSON to
    ``out`` (with the per-face errors beside it) and the raw predictions to
    ``dump`` (``.pkl``)."""
    from mmengine.runner import Runner
    configure_distributed(cfg)
    cfg.load_from = checkpoint
    evaluator = cfg.test_evaluator
    if out and isinstance(evaluator, dict) \
            and evaluator.get('type') == 'FaceLandmarkMetric':
        # per-face errors beside the metrics, for error curves
        cfg.test_evaluator.outfile = osp.splitext(out)[0] + '_faces.json'
    if dump:
        cfg.test_evaluator = [
            *(cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else
              [cfg.test_evaluator]),
            dict(type='DumpResults', out_file_path=dump)
        ]
    metrics = Runner.from_cfg(cfg).test()
    metrics = {k: float(v) for k, v in metrics.items()}
    from mmengine.dist import get_rank
    if get_rank() != 0:  # every rank holds the gathered metrics; one reports
        return metrics
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(metrics, f, indent=2)
    width = max(map(len, metrics), default=0)
    for name, value in metrics.items():
        print(f'{name:<{width}}  {value:.6f}')
    return metrics


def parse_options(options: Sequence[str]) -> Dict[str, Any]:
    """``key=value`` strings read as ``--cfg-options`` reads them (MMEngine's
    ``DictAction``: numbers, booleans, lists and tuples)."""
    from mmengine.config import DictAction
    parsed: Dict[str, Any] = {}
    for option in options:
        key, sep, value = option.partition('=')
        if not sep:
            raise ValueError(f'option {option!r} is not key=value')
        parsed[key] = DictAction._parse_iterable(value)
    return parsed


def train_run(config: str, work_dir: str, options: Sequence[str] = ()) -> None:
    """``tools/train.py CONFIG --work-dir DIR --cfg-options ...`` as one call
    (what :class:`~ivslab_plugin.utils.jobs.Job` runs)."""
    import ivslab_plugin  # noqa: F401  (a spawned process registers first)
    train(load_config(config, work_dir, parse_options(options)))


def test_run(config: str, checkpoint: str, work_dir: str, out: str,
             show_dir: Optional[str] = None, options: Sequence[str] = ()) -> None:
    """``tools/test.py CONFIG CKPT --work-dir DIR --out OUT --show-dir ...
    --cfg-options ...`` as one call."""
    import ivslab_plugin  # noqa: F401
    test(load_config(config, work_dir, parse_options(options), show_dir=show_dir),
         checkpoint, out)
