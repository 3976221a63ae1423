"""Build the real SingleTeacherPoseDistiller with tiny teachers and
students of both output types."""
import copy
import os
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmpose.registry import MODELS

from conftest import REPO_ROOT
from ivslab_plugin.models.distillers import decay_factor, resolve_config_path
from ivslab_plugin.training.kd_checkpoint import convert_kd_checkpoint

from .kd_fixtures import PREPROCESSOR, distiller_cfg, inputs, make_samples, model_cfg

PAIRS = [('heatmap', 'heatmap'), ('simcc', 'simcc'), ('heatmap', 'simcc'),
         ('simcc', 'heatmap')]


def build(tmp_path, teacher='simcc', student='heatmap', **kwargs):
    # a random teacher is fine for these unit tests, and must be asked for
    kwargs.setdefault('allow_random_teacher', 'teacher_ckpt' not in kwargs)
    model = MODELS.build(distiller_cfg(str(tmp_path), teacher, student, **kwargs))
    model.init_weights()
    return model


def student_samples(kind, labelled, seed=0):
    return make_samples(model_cfg(kind, 'student')[1], labelled, seed)


@pytest.mark.parametrize('teacher,student', PAIRS, ids=[f'{t}-{s}' for t, s in PAIRS])
def test_loss_keys_and_frozen_teacher(tmp_path, teacher, student):
    with pytest.warns(UserWarning, match='RANDOM'):
        model = build(tmp_path, teacher, student)
    model.train()
    losses = model(inputs(3), student_samples(student, [True, True, True]), mode='loss')
    assert {'student.loss_kpt', 'student.acc_pose', 'distill.loss_logit',
            'distill.loss_feat'} == set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert all(not p.requires_grad and p.grad is None for p in model.teacher.parameters())
    # (the student's unused last backbone stage gets no gradient)
    assert any(p.grad is not None for p in model.student.backbone.parameters())
    assert all(p.grad is not None for p in model.student.head.parameters())
    assert model.feature_loss.align.weight.grad is not None


def test_missing_teacher_checkpoint_is_an_error(tmp_path):
    # without a checkpoint the run would distil from random weights
    with pytest.raises(ValueError, match='model.teacher_ckpt=PATH'):
        MODELS.build(distiller_cfg(str(tmp_path), 'simcc', 'heatmap'))
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'ivslab', 'student_kd.py'))
    with pytest.raises(ValueError, match='no teacher_ckpt'):
        MODELS.build(cfg.model)
    # a random teacher for a smoke test downloads nothing: teacher.py's
    # pretrained backbone initialisation is dropped
    cfg.model.allow_random_teacher = True
    with pytest.warns(UserWarning, match='RANDOM'):
        model = MODELS.build(cfg.model)
    assert (model.teacher.backbone.init_cfg or {}).get('type') != 'Pretrained'


def test_teacher_batchnorm_stays_eval(tmp_path):
    model = build(tmp_path)
    model.train()
    bns = [m for m in model.teacher.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    assert not model.teacher.training and model.student.training
    assert any(m.training for m in model.student.modules()
               if isinstance(m, torch.nn.BatchNorm2d))


def test_one_step_changes_student_not_teacher(tmp_path):
    model = build(tmp_path)
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
    teacher_before = copy.deepcopy(model.teacher.state_dict())  # incl. BN running stats
    student_before = copy.deepcopy(model.student.state_dict())
    losses = model(inputs(2), student_samples('heatmap', [True, True]), mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    optim.step()
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), k
    changed = [k for k, v in model.student.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, student_before[k])]
    assert any(k.startswith('backbone.') for k in changed)
    assert any(k.startswith('head.') for k in changed)


@pytest.mark.parametrize('student', ['heatmap', 'simcc'])
def test_unlabelled_samples_get_only_distillation(tmp_path, student):
    model = build(tmp_path, 'heatmap', student)
    model.train()
    x = inputs(2)
    losses = model(x, student_samples(student, [False, False]), mode='loss')
    assert set(losses) == {'distill.loss_logit', 'distill.loss_feat'}

    # mixed batch: the task loss is the student's loss on the labelled half
    samples = student_samples(student, [True, False], seed=1)
    model.eval()  # same BN statistics for both evaluations
    mixed = model(x, samples, mode='loss')
    alone = model.student.head.loss(model.student.extract_feat(x[:1]), samples[:1],
                                    train_cfg=model.student.train_cfg)
    torch.testing.assert_close(mixed['student.loss_kpt'], alone['loss_kpt'])


def test_predict_and_tensor_delegate_to_student(tmp_path):
    model = build(tmp_path, 'simcc', 'heatmap').eval()
    x = inputs(2)
    torch.testing.assert_close(model(x, None, mode='tensor'),
                               model.student(x, None, mode='tensor'))
    samples = student_samples('heatmap', [True, True])
    preds = model(x, samples, mode='predict')
    assert preds[0].pred_instances.keypoints.shape == (1, 51, 2)


def test_teacher_checkpoint_is_loaded_and_kept(tmp_path):
    teacher = MODELS.build(model_cfg('heatmap', 'teacher')[0])
    teacher.init_weights()
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict(), meta={}), ckpt)
    model = build(tmp_path, 'heatmap', 'heatmap', teacher_ckpt=ckpt)  # calls init_weights
    for k, v in teacher.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[k], v), k


def test_teacher_checkpoint_of_another_network_is_an_error(tmp_path):
    # a SimCC teacher's weights given for a heatmap teacher would load in
    # part (the backbone) and leave its head random
    other = MODELS.build(model_cfg('simcc', 'teacher')[0])
    ckpt = str(tmp_path / 'simcc_teacher.pth')
    torch.save(dict(state_dict=other.state_dict(), meta={}), ckpt)
    with pytest.raises(RuntimeError, match='simcc_teacher.pth does not match teacher_cfg'):
        build(tmp_path, 'heatmap', 'heatmap', teacher_ckpt=ckpt)


def test_teacher_sees_the_student_batch_resized(tmp_path):
    model = build(tmp_path)
    x = inputs(2)
    t_in = model.teacher_inputs(x)
    assert t_in.shape == (2, 3, 64, 64)
    # same preprocessing: a constant image stays the same constant
    const = torch.full((1, 3, 32, 32), 0.5)
    torch.testing.assert_close(model.teacher_inputs(const), torch.full((1, 3, 64, 64), 0.5))


TEACHER_MEAN, TEACHER_STD = [100.0, 110.0, 120.0], [50.0, 40.0, 30.0]


def build_renormalising(tmp_path, **kwargs):
    """A distiller whose teacher normalises with its own mean / std."""
    t_model, _ = model_cfg('heatmap', 'teacher')
    t_model['data_preprocessor'] = dict(t_model['data_preprocessor'], mean=TEACHER_MEAN,
                                        std=TEACHER_STD)
    t_path = str(tmp_path / 'renorm_teacher.py')
    with open(t_path, 'w') as f:
        f.write(f'input_size = (64, 64)\nmodel = {t_model!r}\n')
    cfg = dict(distiller_cfg(str(tmp_path), 'heatmap', 'heatmap', feature=False, **kwargs),
               teacher_cfg=t_path, allow_random_teacher=True)
    with pytest.warns(UserWarning, match='RANDOM'):
        return MODELS.build(cfg)


def raw_and_student_batch():
    """A non-constant raw image (B, 3, 32, 32) in pixel values, and what the
    student's preprocessor makes of it."""
    raw = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 255
    raw[0, :, 0, 0] = torch.tensor([200.0, 110.0, 0.0])
    s_mean = torch.tensor(PREPROCESSOR['mean']).view(1, 3, 1, 1)
    s_std = torch.tensor(PREPROCESSOR['std']).view(1, 3, 1, 1)
    return raw, (raw - s_mean) / s_std


def test_teacher_gets_its_own_normalisation(tmp_path):
    """Student and teacher with different mean / std: the teacher sees
    (raw - teacher mean) / teacher std of the same pixels."""
    raw, x = raw_and_student_batch()
    t_mean = torch.tensor(TEACHER_MEAN).view(1, 3, 1, 1)
    t_std = torch.tensor(TEACHER_STD).view(1, 3, 1, 1)
    expected = (raw - t_mean) / t_std

    same_size = build_renormalising(tmp_path, teacher_input_size=(32, 32))
    t_in = same_size.teacher_inputs(x)
    torch.testing.assert_close(t_in, expected, atol=1e-4, rtol=1e-5)
    # by hand: pixel (200, 110, 0) -> ((200-100)/50, (110-110)/40, (0-120)/30)
    torch.testing.assert_close(t_in[0, :, 0, 0], torch.tensor([2.0, 0.0, -4.0]),
                               atol=1e-4, rtol=0)

    # at the teacher's own 64x64 the renormalised batch is resized, and the
    # loss feeds the teacher exactly that
    model = build_renormalising(tmp_path).train()
    torch.testing.assert_close(
        model.teacher_inputs(x),
        F.interpolate(expected, size=(64, 64), mode='bilinear', align_corners=False),
        atol=1e-4, rtol=1e-5)
    seen = []
    extract = model.teacher.extract_feat
    model.teacher.extract_feat = lambda t: seen.append(t) or extract(t)
    model(x, student_samples('heatmap', [True, True]), mode='loss')
    torch.testing.assert_close(seen[0], model.teacher_inputs(x))


def test_distillation_decay_schedule(tmp_path):
    assert decay_factor(dict(type='constant'), 0.7) == 1.0
    assert decay_factor(dict(type='linear', min_ratio=0.2), 0.5) == pytest.approx(0.6)
    assert decay_factor(dict(type='cosine'), 1.0) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        decay_factor(dict(type='step'), 0.5)

    model = build(tmp_path, distill_decay=dict(type='linear'))
    model.train()
    x, samples = inputs(2), student_samples('heatmap', [True, True])
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 10)
    try:
        hub.update_info('iter', 0)
        full = model(x, samples, mode='loss')['distill.loss_logit']
        hub.update_info('iter', 5)
        half = model(x, samples, mode='loss')['distill.loss_logit']
    finally:
        hub.update_info('iter', None)
        hub.update_info('max_iters', None)
    torch.testing.assert_close(half, full * 0.5)


def test_teacher_config_resolves_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path('ivslab/teacher.py').model.head.type == 'RTMCCHead'
    with pytest.raises(FileNotFoundError):
        resolve_config_path('ivslab/no_such_teacher.py')


def test_converter_round_trip(tmp_path):
    model = build(tmp_path, 'simcc', 'heatmap')
    src, dst = str(tmp_path / 'kd.pth'), str(tmp_path / 'student.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=3)), src)
    state = convert_kd_checkpoint(src, dst)
    assert not any(k.startswith(('teacher.', 'student.', 'feature_loss.')) for k in state)

    student = MODELS.build(model_cfg('heatmap', 'student')[0])
    from mmengine.runner.checkpoint import load_checkpoint
    ckpt = load_checkpoint(student, dst, map_location='cpu', strict=True)
    assert ckpt['meta']['epoch'] == 3
    for k, v in model.student.state_dict().items():
        assert torch.equal(student.state_dict()[k], v), k

    # the shipped student config loads a converted student_kd checkpoint
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'ivslab', 'student_kd.py'))
    cfg.model.allow_random_teacher = True
    with pytest.warns(UserWarning, match='RANDOM'):
        kd = MODELS.build(cfg.model)
    torch.save(dict(state_dict=kd.state_dict()), src)
    convert_kd_checkpoint(src, dst)
    shipped = MODELS.build(Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'ivslab', 'student.py')).model)
    load_checkpoint(shipped, dst, map_location='cpu', strict=True)

    # a plain checkpoint is not a distillation checkpoint
    torch.save(dict(state_dict=student.state_dict()), src)
    with pytest.raises(KeyError, match='not a distillation checkpoint'):
        convert_kd_checkpoint(src, str(tmp_path / 'x.pth'))
    assert os.path.isfile(dst)
