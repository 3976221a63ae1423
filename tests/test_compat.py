import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint

from ivslab_plugin import compat


def test_torchvision_imports_and_runs():
    import torchvision
    from torchvision.transforms import functional as F
    out = F.hflip(torch.arange(6.).reshape(1, 2, 3))
    assert out[0, 0].tolist() == [2., 1., 0.]
    assert torchvision.__version__


def test_fixes_apply_once():
    # ivslab_plugin's import applied them; another apply() must not wrap the
    # loaders or the exporter a second time (each call would nest another
    # safe_globals context / another wrapper).
    from mmengine.runner.checkpoint import CheckpointLoader
    first = compat.apply()
    second = compat.apply()
    assert second == first
    assert len(second) == len(set(second))
    assert {'checkpoint_safe_globals', 'onnx_legacy_export'} <= set(second)
    for prefix, loader in CheckpointLoader._schemes.items():
        assert getattr(loader, '_ivslab_safe', False), prefix
        assert not getattr(loader.__wrapped__, '_ivslab_safe', False), prefix
    assert not getattr(torch.onnx.export.__wrapped__, '_ivslab_legacy', False)
    import mmengine.runner.checkpoint as mm_checkpoint
    assert mm_checkpoint.load_url is compat._load_url_weights_only


class _Evil:
    """Pickles to a call of os.system when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_malicious_checkpoint_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _Evil(marker)}, path)
    model = torch.nn.Linear(2, 2)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(model, str(path))
    assert not marker.exists()


def test_mmengine_checkpoint_contents_load(tmp_path):
    model = torch.nn.Linear(2, 2)
    path = tmp_path / 'ok.pth'
    loss = HistoryBuffer()
    loss.update(1.0)
    loss.update(0.5)
    torch.save(
        {
            'state_dict': model.state_dict(),
            'meta': {'best_score': np.float64(0.05), 'arr': np.arange(3)},
            'message_hub': {
                'log_scalars': {'train/loss': loss}
            },
        }, path)
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert ckpt['meta']['best_score'] == pytest.approx(0.05)
    assert ckpt['message_hub']['log_scalars']['train/loss'].mean() == 0.75
    # the allow-list is scoped to MMEngine's loader: plain torch.load still
    # refuses the numpy globals
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_onnx_export_uses_the_legacy_exporter(tmp_path):
    import onnxruntime as ort
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    x = torch.randn(1, 3, 8, 8)
    path = str(tmp_path / 'm.onnx')
    torch.onnx.export(model, x, path, opset_version=11)
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    (out, ) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(out, model(x).detach().numpy(), atol=1e-5)


class _Sneaky:
    """Pickles to getattr(np.ndarray, 'tofile'): a general getattr would
    hand a checkpoint any attribute of an allowed type."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_getattr_is_limited_to_history_buffer_methods(tmp_path):
    path = tmp_path / 'sneaky.pth'
    torch.save({'state_dict': {}, 'meta': _Sneaky()}, path)
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        _load_checkpoint(str(path), map_location='cpu')


def test_checkpoint_by_url_loads_weights_only(http_root):
    root, url = http_root
    src = torch.nn.Linear(3, 2)
    loss = HistoryBuffer()
    loss.update(2.0)
    torch.save({'state_dict': src.state_dict(),
                'meta': {'best_score': np.float64(0.05), 'arr': np.arange(3)},
                'message_hub': {'log_scalars': {'train/loss': loss}}},
               root / 'ok.pth')
    dst = torch.nn.Linear(3, 2)
    ckpt = load_checkpoint(dst, f'{url}/ok.pth', map_location='cpu', strict=True)
    assert torch.equal(dst.weight, src.weight) and torch.equal(dst.bias, src.bias)
    assert ckpt['meta']['best_score'] == pytest.approx(0.05)


def test_malicious_checkpoint_by_url_is_refused(http_root, tmp_path):
    root, url = http_root
    marker = tmp_path / 'pwned'
    torch.save({'state_dict': {}, 'meta': _Evil(marker)}, root / 'evil.pth')
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(torch.nn.Linear(2, 2), f'{url}/evil.pth')
    assert not marker.exists()


def test_albumentation_follows_the_run_seed():
    """MMPose's Albumentation draws from numpy's seeded generator, as it did
    before albumentations 1.4: the same seed gives the same augmentation,
    another seed another one."""
    from mmpose.datasets.transforms import Albumentation

    def augment(seed: int) -> np.ndarray:
        np.random.seed(seed)
        transform = Albumentation(transforms=[dict(type='CoarseDropout', max_holes=4, p=1.0)])
        img = np.full((64, 64, 3), 200, np.uint8)
        return transform(dict(img=img))['img']

    assert 'albumentation_seeding' in compat.apply()
    first = augment(0)
    assert (first != 200).any()  # the dropout drew holes
    assert np.array_equal(first, augment(0))
    assert not np.array_equal(first, augment(1))
