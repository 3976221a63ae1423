import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.registry import init_default_scope

import ivslab_plugin  # noqa: F401  (fixes and registration before mmpose)
from ivslab_plugin.sample_data.synthetic import write_synthetic_dataset

# The deploy tests' shared fixtures (tiny trained models, exports, images).
pytest_plugins = ['test_deploy.deploy_fixtures']

# Transforms and models resolve in MMPose's scope, as in a config run.
init_default_scope('mmpose')

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def cpu_options(data_root: str) -> list:
    """Shrink a config's schedule and loaders for a CPU smoke run."""
    opts = [f'data_root={data_root}', 'train_cfg.max_epochs=2',
            'train_cfg.val_interval=1', 'train_dataloader.batch_size=4',
            'default_hooks.logger.interval=1', 'randomness.seed=0']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts


def run_tool(*args: str) -> str:
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def load_tool(path: str):
    """A script of ``tools/`` as a module (its ``main(argv)`` then runs in
    the test's process); ``tools/`` goes on ``sys.path`` as when it runs."""
    tools = osp.join(REPO_ROOT, 'tools')
    if tools not in sys.path:
        sys.path.append(tools)
    spec = importlib.util.spec_from_file_location(
        'tool_' + path.replace('/', '_')[:-3], osp.join(REPO_ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def mmpose_scope():
    """Every test starts in MMPose's scope, whatever scope (mmdet's) the
    test before it left current."""
    init_default_scope('mmpose')


@pytest.fixture(scope='session')
def synthetic_data(tmp_path_factory) -> dict:
    """A small ivslab-layout dataset of drawn faces (24 train, 8 val)."""
    root = tmp_path_factory.mktemp('synthetic')
    info = write_synthetic_dataset(str(root), num_train=24, num_val=8, seed=0)
    info['root'] = str(root)
    return info


@pytest.fixture
def http_root(tmp_path, monkeypatch):
    """Serve a folder over HTTP on 127.0.0.1 (nothing leaves the machine).

    Yields (folder, base URL). MMEngine's URL loader caches downloads under
    $TORCH_HOME, which is kept inside tmp_path.
    """
    import functools
    import http.server
    import threading
    root = tmp_path / 'served'
    root.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()
