import os.path as osp

import pytest
from mmengine.registry import init_default_scope

import ivslab_plugin  # noqa: F401  (fixes and registration before mmpose)
from ivslab_plugin.datasets.synthetic import write_synthetic_dataset

# The deploy tests' shared fixtures (tiny trained models, exports, images).
pytest_plugins = ['test_deploy.deploy_fixtures']

# Transforms and models resolve in MMPose's scope, as in a config run.
init_default_scope('mmpose')

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


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
