"""The package as pip installs it: what it asks pip for, and a non-editable
install that trains from its own shipped config and tool, with the source
tree out of reach."""
import importlib.util
import os
import os.path as osp
import re
import runpy
import shutil
import subprocess
import sys
import textwrap
from importlib import metadata

import pytest

from conftest import REPO_ROOT

# What tools/install.sh installs its own way (CPU torch, mmcv compiled with
# ops, mmpose without chumpy): a plain `pip install .` must never pull them.
NEVER_PULLED = ('torch', 'torchvision', 'mmcv', 'mmcv-lite', 'mmpose', 'chumpy')
# The files a source distribution or a checkout has, without build leftovers.
SOURCE_FILES = ('setup.py', 'MANIFEST.in', 'LICENSE', 'CITATION.cff', 'README.md',
                'pyproject.toml', 'requirements', 'ivslab_plugin', 'configs', 'tools')


def _setup_globals() -> dict:
    # setup.py calls setup() only as __main__
    return runpy.run_path(osp.join(REPO_ROOT, 'setup.py'), run_name='setup_under_test')


def _name(requirement: str) -> str:
    return re.split(r'[<>=!~;\[ ]', requirement, maxsplit=1)[0].strip().lower().replace('_', '-')


def test_install_requires_follow_requirements_and_never_pull_torch_or_mmcv():
    setup = _setup_globals()
    requires = setup['parse_requirements']('build', 'runtime')
    names = {_name(r) for r in requires}
    assert {'mmengine', 'mmdet', 'mmdeploy', 'numpy', 'onnxruntime'} <= names
    assert 'mmengine==0.10.7' in requires and 'numpy==1.26.4' in requires  # pins kept
    # build.txt's setuptools<70 is for the mmcv compile only; runtime.txt's pin stays
    assert [r for r in requires if _name(r) == 'setuptools'] == ['setuptools==80.9.0']
    # ... and nothing listed reaches them through its own dependencies either
    # (as pnnx would reach torch), judged from the installed metadata
    parents, todo = {}, sorted(names)
    while todo:
        name = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for req in dist.requires or []:
            if 'extra ==' in req:
                continue
            dep = _name(req)
            if dep not in parents and dep not in names:
                parents[dep] = name
                todo.append(dep)
    pulled = {n: 'listed' if n in names else f'required by {parents[n]}'
              for n in NEVER_PULLED if n in names or n in parents}
    assert not pulled, f'install_requires would pull {pulled}'


def test_setup_ships_configs_and_tools_like_mmpose():
    setup = _setup_globals()
    assert setup['MIM_FOLDERS'] == ('configs', 'tools')
    # the Python the pinned stack is tested on
    source = open(osp.join(REPO_ROOT, 'setup.py')).read()
    assert "python_requires='>=3.11,<3.12'" in source
    ignored = open(osp.join(REPO_ROOT, '.gitignore')).read().split()
    assert 'ivslab_plugin/.mim' in ignored


def _copy_source(dst: str) -> str:
    os.makedirs(dst)
    for name in SOURCE_FILES:
        src = osp.join(REPO_ROOT, name)
        if osp.isdir(src):
            shutil.copytree(src, osp.join(dst, name), ignore=shutil.ignore_patterns(
                '__pycache__', '*.pyc', '.mim', '*.egg-info'))
        else:
            shutil.copy(src, dst)
    return dst


CHECK = textwrap.dedent("""
    import os, os.path as osp, sys
    import ivslab_plugin
    from ivslab_plugin.models.distillers.single_teacher_distiller import resolve_config_path
    from ivslab_plugin.utils import shipped_config, shipped_tool
    site = sys.argv[1]
    # the installed copy, not the source tree
    assert ivslab_plugin.__file__.startswith(site), ivslab_plugin.__file__
    mim = osp.join(site, 'ivslab_plugin', '.mim')
    assert shipped_config() == osp.join(mim, 'configs'), shipped_config()
    assert shipped_tool('train.py') == osp.join(mim, 'tools', 'train.py')
    # the distiller's configs/-relative teacher lookup lands in the package
    teacher = resolve_config_path('ivslab/teacher.py')
    assert teacher.filename.startswith(mim), teacher.filename
    # every module of the source tree was installed (a folder without
    # __init__.py is skipped by find_packages), and the export entry imports
    src = osp.join(sys.argv[2], 'ivslab_plugin')
    def modules(root):
        return {osp.relpath(osp.join(d, f), root) for d, _, files in os.walk(root)
                for f in files if f.endswith('.py') and '.mim' not in d}
    missing = modules(src) - modules(osp.join(site, 'ivslab_plugin'))
    assert not missing, f'not installed: {sorted(missing)}'
    from ivslab_plugin.deploy import exports  # noqa: F401
    print('installed at', osp.dirname(ivslab_plugin.__file__))
""")


@pytest.mark.slow
def test_non_editable_install_trains_with_a_packaged_config(synthetic_data, tmp_path):
    # `pip install .` into a fresh target: --no-deps and --no-build-isolation
    # reuse the installed stack (a venv with --system-site-packages would not
    # see this venv's packages), --no-index keeps it offline
    src = _copy_source(str(tmp_path / 'src'))
    site = str(tmp_path / 'site')
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-build-isolation',
         '--no-index', '--disable-pip-version-check', '-q', '--target', site, src],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    mim = osp.join(site, 'ivslab_plugin', '.mim')
    for rel in ('configs/ivslab/student.py', 'configs/ivslab/_base_/ivslab_face.py',
                'configs/ivslab/deploy/pose-detection_simcc_onnxruntime_static.py',
                'tools/train.py', 'tools/analysis/kd_benchmark.py', 'tools/dist_train.sh'):
        assert osp.isfile(osp.join(mim, rel)), rel
    assert osp.isfile(osp.join(site, 'ivslab_plugin', 'datasets', 'metainfo', 'ivslab51.py'))
    # the build left no copy in the source tree to shadow its configs/
    assert not osp.exists(osp.join(src, 'ivslab_plugin', '.mim'))

    # only the install is importable: another working directory, PYTHONPATH
    # replaced (the editable checkout's finder comes after it on sys.path)
    run_dir = tmp_path / 'elsewhere'
    run_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=site, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', CHECK, site, src], cwd=run_dir, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]

    work_dir = str(tmp_path / 'work')
    opts = [f'data_root={synthetic_data["root"]}', 'train_cfg.max_epochs=1',
            'train_dataloader.batch_size=8', 'default_hooks.logger.interval=1']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    proc = subprocess.run(
        [sys.executable, osp.join(mim, 'tools', 'train.py'),
         osp.join(mim, 'configs', 'ivslab', 'student.py'), '--work-dir', work_dir,
         '--cfg-options', *opts], cwd=run_dir, env=env, capture_output=True, text=True,
        timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'NME_pupil' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    # the run's config is the packaged one
    assert osp.isfile(osp.join(work_dir, 'student.py'))

    # the installed package exports with its own tool (deploy/convert,
    # deploy/infer and deploy/verify are packaged) ...
    bundle = str(tmp_path / 'bundle')
    proc = subprocess.run(
        [sys.executable, osp.join(mim, 'tools', 'deploy_embedded.py'),
         osp.join(work_dir, 'student.py'), osp.join(work_dir, 'epoch_1.pth'),
         '--runtime', 'onnxruntime', '--work-dir', bundle, '--num-faces', '2'],
        cwd=run_dir, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    # a one-epoch student's flat heatmaps may fail the keypoint parity; the
    # export itself must work and the parity check must have run
    assert 'parity onnxruntime vs pytorch' in log, log[-4000:]
    assert osp.isfile(osp.join(bundle, 'end2end.onnx')), log[-4000:]
    bundles = [bundle]
    if importlib.util.find_spec('litert_torch') is not None:
        # the optional LiteRT extra: INT8, calibrated on the training faces; a
        # one-epoch student may fail the INT8 check (exit 1), but the export
        # and the check must run
        bundles.append(str(tmp_path / 'bundle_int8'))
        proc = subprocess.run(
            [sys.executable, osp.join(mim, 'tools', 'deploy_embedded.py'),
             osp.join(work_dir, 'student.py'), osp.join(work_dir, 'epoch_1.pth'),
             '--runtime', 'tflite-int8', '--work-dir', bundles[-1], '--data-root',
             synthetic_data['root'], '--num-calib', '8', '--skip-parity'],
            cwd=run_dir, env=env, capture_output=True, text=True, timeout=900)
        log = proc.stdout + proc.stderr
        assert proc.returncode in (0, 1) and 'INT8 check on' in log, log[-4000:]
        assert osp.isfile(osp.join(bundles[-1], 'end2end_int8.tflite')), log[-4000:]
    # ... and each bundle runs on an image
    image = osp.join(synthetic_data['root'], 'images', sorted(synthetic_data['faces'])[0])
    (tmp_path / 'list.txt').write_text(image + '\n')
    for i, folder in enumerate(bundles):
        out = tmp_path / f'out{i}'
        proc = subprocess.run(
            [sys.executable, osp.join(folder, 'run_model.py'), str(tmp_path / 'list.txt'),
             str(out), '--detector', 'haar'], cwd=run_dir, env=env,
            capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert 'n_points: 51' in (out / (osp.splitext(osp.basename(image))[0]
                                         + '.txt')).read_text()
