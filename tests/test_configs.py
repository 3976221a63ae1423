import argparse
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config, DictAction
from mmpose.registry import MODELS

from conftest import REPO_ROOT

CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO_ROOT, 'configs', 'ivslab', '*.py')))


def test_configs_exist():
    names = {osp.basename(p) for p in CONFIGS}
    assert 'teacher.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_loads_and_builds_on_cpu(path, tmp_path, monkeypatch):
    # configs must not depend on the working directory
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['ivslab_plugin']
    assert cfg.default_hooks.checkpoint.save_best == 'NME_pupil'
    assert cfg.default_hooks.checkpoint.rule == 'less'
    if cfg.model.type == 'SingleTeacherPoseDistiller':
        cfg.model.allow_random_teacher = True
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_mmpose_init_model_finds_the_metainfo(path, tmp_path, monkeypatch):
    # MMPose's own API reads the dataset metainfo without the plugin's
    # lookup, from whatever the working directory is.
    from mmpose.apis import init_model
    if Config.fromfile(path).model.type != 'TopdownPoseEstimator':
        pytest.skip('init_model builds single pose models, not distillers')
    monkeypatch.chdir(tmp_path)
    model = init_model(path, None, device='cpu')
    assert model.dataset_meta['dataset_name'] == 'ivslab'
    assert len(model.dataset_meta['flip_indices']) == 51


# MMPose's RTMPose-m face configs (WFLW, LaPa, COCO-WholeBody-Face) start
# from this CSPNeXt-m.
CSPNEXT_M = ('https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/'
             'cspnext-m_udp-aic-coco_210e-256x192-f2f7d6f6_20230130.pth')


def _teacher_with(options: dict):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'ivslab', 'teacher.py'))
    cfg.merge_from_dict(options)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def test_teacher_backbone_starts_from_mmpose_cspnext_m():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'ivslab', 'teacher.py'))
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained', prefix='backbone.',
                                               checkpoint=CSPNEXT_M)


@pytest.mark.parametrize('where', ['url', 'local'])
def test_teacher_pretrained_switch_loads_weights(where, http_root):
    # the documented switch, model.backbone.init_cfg.checkpoint=..., with a
    # pose checkpoint (numpy meta, as MMPose publishes them) served by URL or
    # given as a local file
    import numpy as np
    root, url = http_root
    torch.manual_seed(3)
    source = MODELS.build(Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'ivslab', 'teacher.py')).model)
    torch.save(dict(state_dict=source.state_dict(),
                    meta=dict(dataset_meta=dict(sigmas=np.ones(51, np.float32)))),
               root / 'cspnext-m.pth')
    ckpt = f'{url}/cspnext-m.pth' if where == 'url' else str(root / 'cspnext-m.pth')
    model = _teacher_with({'model.backbone.init_cfg.checkpoint': ckpt})
    expected = source.backbone.state_dict()
    for name, value in model.backbone.state_dict().items():
        assert torch.equal(value, expected[name]), name
    # only the backbone comes from the checkpoint
    assert not torch.equal(model.head.final_layer.weight, source.head.final_layer.weight)


def test_teacher_from_scratch_builds_offline(monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader

    def no_loading(*args, **kwargs):
        raise AssertionError(f'tried to load a checkpoint: {args}')

    monkeypatch.setattr(CheckpointLoader, 'load_checkpoint', no_loading)
    # parsed as every MMEngine tool parses --cfg-options
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_args(['--cfg-options', 'model.backbone.init_cfg=None']).cfg_options
    assert options == {'model.backbone.init_cfg': None}
    model = _teacher_with(options)
    assert model.backbone.init_cfg is None
    with pytest.raises(AssertionError, match='tried to load'):
        _teacher_with({})


# Parameters (M) and multiply-adds (G) of each config's deployed model
# (ivslab_plugin.analysis.complexity, as tools/analysis/complexity.py prints
# them): a change of any network shows up here as a diff.
COMPLEXITY = {
    'teacher.py': (14.9040, 2.6754),
    # the network of docs/distillation.md's measurements; 1.853 M of the
    # parameters are the unused stage 4
    'teacher_cpu.py': (2.4494, 0.1873),
    'student.py': (0.2352, 0.0477),
    'student_tiny.py': (0.0888, 0.0243),
    # a distillation config deploys its student: student.py's
    'student_kd.py': (0.2352, 0.0477),
    'student_kd_unlabelled.py': (0.2352, 0.0477),
}


def test_teachers_do_not_inherit_a_student():
    # a teacher never inherits the student's architecture: teacher_cpu.py
    # silently changed once when student.py did
    import re
    for name in ('teacher.py', 'teacher_cpu.py'):
        text = open(osp.join(REPO_ROOT, 'configs', 'ivslab', name)).read()
        bases = re.findall(r"'([^']+\.py)'", re.search(r'_base_ = \[(.*?)\]', text, re.S)[1])
        assert bases == ['./_base_/ivslab_face.py'], (name, bases)


def test_every_config_is_pinned():
    assert set(COMPLEXITY) == {osp.basename(p) for p in CONFIGS}


@pytest.mark.parametrize('name', sorted(COMPLEXITY))
def test_config_complexity_is_pinned(name):
    from ivslab_plugin.analysis.complexity import model_complexity
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'ivslab', name))
    res = model_complexity(cfg)
    assert (round(res['mparams'], 4), round(res['gmacs'], 4)) == COMPLEXITY[name]


def _albumentation_p(pipeline, name):
    (step, ) = [t for t in pipeline if t['type'] == 'Albumentation']
    return next(t['p'] for t in step['transforms'] if t['type'] == name)


def test_teacher_follows_rtmpose_face_recipe():
    # RTMPose-m's WFLW / LaPa configs: AdamW 4e-3 for 8x64, 1000 warm-up
    # steps, EMA, CoarseDropout 1.0 then 0.5 for the last 10 epochs, flip test
    from mmengine.registry import HOOKS
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'ivslab', 'teacher.py'))
    assert cfg.optim_wrapper.optimizer.lr == 4e-3
    assert cfg.auto_scale_lr.base_batch_size == 512
    assert cfg.param_scheduler[0].end == 1000
    assert cfg.model.test_cfg.flip_test is True
    assert _albumentation_p(cfg.train_dataloader.dataset.pipeline, 'CoarseDropout') == 1.0
    hooks = {h['type']: h for h in cfg.custom_hooks}
    assert hooks['EMAHook']['momentum'] == 0.0002
    switch = hooks['mmdet.PipelineSwitchHook']
    assert switch['switch_epoch'] == cfg.train_cfg.max_epochs - 10
    assert _albumentation_p(switch['switch_pipeline'], 'CoarseDropout') == 0.5
    for hook in cfg.custom_hooks:  # every hook builds in the default scope
        assert HOOKS.build(hook) is not None


def test_short_teacher_options_reach_the_distiller():
    # the project's tools/train.py keeps `teacher_ckpt=` / `teacher_cfg=` as
    # short forms of `model.teacher_ckpt=` / `model.teacher_cfg=`
    from ivslab_plugin.training.runner import apply_model_overrides
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'ivslab', 'student_kd.py'))
    assert cfg.model.teacher_ckpt is None and cfg.model.allow_random_teacher is False
    options = dict(teacher_ckpt='t.pth', teacher_cfg='teacher_cpu.py')
    cfg.merge_from_dict(options)
    apply_model_overrides(cfg, options)
    assert (cfg.model.teacher_ckpt, cfg.model.teacher_cfg) == ('t.pth', 'teacher_cpu.py')


def test_val_and_test_ann_files_reach_their_own_loader():
    from ivslab_plugin.training.runner import apply_data_overrides
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'ivslab', 'student.py'))
    # the ivslab layout: its validation split test.tsv does both
    assert cfg.val_dataloader.dataset.ann_file == 'annotations/ivslab/test.tsv'
    assert cfg.test_dataloader.dataset.ann_file == 'annotations/ivslab/test.tsv'
    assert cfg.test_dataloader.dataset.pipeline == cfg.val_dataloader.dataset.pipeline
    options = dict(val_ann_file='annotations/ivslab/val.tsv')
    cfg.merge_from_dict(options)
    apply_data_overrides(cfg, options)
    assert cfg.val_dataloader.dataset.ann_file == 'annotations/ivslab/val.tsv'
    assert cfg.test_dataloader.dataset.ann_file == 'annotations/ivslab/test.tsv'


def test_ann_file_options_reach_the_right_dataset_of_a_concat():
    # student_kd_unlabelled.py trains on a ConcatDataset of labelled and
    # unlabelled faces: each annotation option must reach its own dataset
    from ivslab_plugin.training.runner import apply_data_overrides
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'ivslab', 'student_kd_unlabelled.py'))
    options = dict(data_root='/d/', train_ann_file='l.tsv', unlabelled_ann_file='u.tsv')
    cfg.merge_from_dict(options)
    apply_data_overrides(cfg, options)
    labelled, unlabelled = cfg.train_dataloader.dataset.datasets
    assert (labelled.ann_file, labelled.data_root) == ('l.tsv', '/d/')
    assert (unlabelled.ann_file, unlabelled.data_root, unlabelled.labelled) == \
        ('u.tsv', '/d/', False)
    assert cfg.val_dataloader.dataset.data_root == '/d/'


def test_kd_benchmark_gives_unlabelled_distillation_the_same_labelled_steps(tmp_path):
    # the distilled student with the unlabelled pool keeps the student
    # alone's epochs and labelled batch; its sampler adds the unlabelled share
    from ivslab_plugin.analysis.kd_benchmark import Plan
    ann = tmp_path / 'annotations' / 'ivslab'
    ann.mkdir(parents=True)
    (ann / 'train.tsv').write_text('row\n' * 100)
    (ann / 'extra.tsv').write_text('row\n' * 300)
    plan = Plan(str(tmp_path), str(tmp_path), epochs=30, batch_size=16,
                unlabelled_ann_file='annotations/ivslab/extra.tsv',
                distilled=('student_kd', 'student_kd_pool'))
    assert plan.models == ['teacher', 'student', 'student_kd', 'student_kd_pool']
    assert plan.iters_per_epoch() == 7
    assert plan.train_epochs('student') == plan.train_epochs('student_kd_pool') == 30
    assert [plan.train_batch_size(n) for n in plan.models[1:]] == [16, 16, 32]
    assert osp.basename(plan.config('student_kd_pool')) == 'student_kd_unlabelled.py'
    assert osp.basename(plan.config('student_kd')) == 'student_kd.py'
    job = plan.train_job('student_kd_pool', 1)
    assert 'unlabelled_ann_file=annotations/ivslab/extra.tsv' in job.kwargs['options']
    assert {'train_cfg.max_epochs=30',
            'train_dataloader.batch_size=32'} <= set(job.kwargs['options'])
    assert not any('unlabelled' in o for o in plan.train_job('student_kd', 1).kwargs['options'])
    # an explicit ratio sets the sampler and the batch together
    plan.source_ratio = (1, 2)
    job = plan.train_job('student_kd_pool', 1)
    assert {'train_dataloader.batch_size=48',
            'train_dataloader.batch_sampler.source_ratio=[1,2]'} <= set(job.kwargs['options'])
    # each seed in its own folder, the rest of the plan the same
    other = plan.for_seed(3)
    assert (other.seed, other.work_dir, other.epochs) == (3, str(tmp_path / 'seed3'), 30)
    assert 'randomness.seed=3' in other.options(30)
    with pytest.raises(ValueError, match='student_kd_pool needs unlabelled_ann_file'):
        Plan(str(tmp_path), str(tmp_path), epochs=30, distilled=('student_kd_pool', ))


def _faces(path, errors):
    path.write_text(json.dumps(dict(faces=[dict(img_path=f'{i}.png', NME_pupil=e)
                                           for i, e in enumerate(errors)])))
    return str(path)


def test_kd_benchmark_tables_say_what_is_noise(tmp_path):
    from ivslab_plugin.analysis.kd_benchmark import format_seeds, format_table, gap_closed
    row = {'NME_ocular': 0.01, 'FR@0.10_pupil': 0.0, 'AUC@0.10_pupil': 0.8,
           'mparams': 0.3, 'gmacs': 0.02}
    noise = np.tile([0.003, -0.003], 20)
    results = {
        # a reused teacher has no steps or training time
        'teacher': dict(row, NME_pupil=0.0170, checkpoint='t.pth',
                        faces=_faces(tmp_path / 't.json', 0.0170 + noise)),
        'student': dict(row, NME_pupil=0.0220, iters=1350, train_s=420.0,
                        faces=_faces(tmp_path / 's.json', 0.0220 + noise)),
        'student_kd': dict(row, NME_pupil=0.0190, iters=1350, train_s=2300.0,
                           faces=_faces(tmp_path / 'kd.json', 0.0190 + noise)),
    }
    assert abs(gap_closed(results) - 0.6) < 1e-9
    table = format_table(results)
    teacher_row = next(line for line in table.splitlines() if line.startswith('| teacher'))
    assert teacher_row.endswith('|  |  |') and 'nan' not in table
    assert 'teacher: reused t.pth' in table
    # paired: the same faces' noise cancels, so both differences are results
    assert 'the teacher is better than the student alone: NME_pupil -22.7%' in table
    assert 'student_kd: distillation closed 60% of the gap' in table
    # the distilled student within noise of the student alone: said so
    results['student_kd']['faces'] = _faces(tmp_path / 'kd2.json', 0.0220 - noise)
    assert 'student_kd: distilled vs student alone: within noise' in format_table(results)
    # without per-face errors there is no verdict at all
    bare = {k: {m: v for m, v in r.items() if m != 'faces'} for k, r in results.items()}
    assert '%' not in format_table(bare)
    results['teacher']['NME_pupil'] = 0.0230  # worse than the student: no gap
    assert gap_closed(results) is None
    # over seeds: each seed's NME, their mean and standard deviation
    other = {k: dict(r, NME_pupil=r['NME_pupil'] + 0.002) for k, r in results.items()}
    seeds = format_seeds({0: results, 1: other})
    student = next(line for line in seeds.splitlines() if line.startswith('| student |'))
    assert student.startswith('| student | 0.0220 | 0.0240 | 0.0230 | 0.0014 |')
    assert 'and 2 seeds' in seeds


def test_kd_benchmark_selects_on_val_where_the_data_has_it(tmp_path):
    from ivslab_plugin.analysis.kd_benchmark import schedule_options
    ann = tmp_path / 'annotations' / 'ivslab'
    ann.mkdir(parents=True)
    (ann / 'test.tsv').write_text('row\n')
    opts = schedule_options(str(tmp_path), 10, 16, 0, 50)
    assert not any(o.startswith('val_ann_file=') for o in opts)  # ivslab layout
    (ann / 'val.tsv').write_text('row\n')
    opts = schedule_options(str(tmp_path), 10, 16, 0, 50)
    assert 'val_ann_file=annotations/ivslab/val.tsv' in opts
