"""tools/install.sh finds a Python 3.11 or refuses before installing anything
(only its ``--check-python`` part runs here, with fake interpreters)."""
import os
import os.path as osp
import subprocess

from conftest import REPO_ROOT

INSTALL = osp.join(REPO_ROOT, 'tools', 'install.sh')


def fake_python(folder, name: str, version: str) -> str:
    """An executable ``name`` that answers any command with ``version``."""
    path = folder / name
    path.write_text(f'#!/bin/sh\necho {version}\n')
    path.chmod(0o755)
    return str(path)


def check_python(path_dir, **env) -> subprocess.CompletedProcess:
    # PATH holds only the fakes: no real python3.11 can be found by accident
    return subprocess.run(['/bin/bash', INSTALL, '--check-python'], capture_output=True,
                          text=True, timeout=30, env=dict(PATH=str(path_dir), **env))


def test_refuses_python_3_9_with_a_clear_message(tmp_path):
    fake_python(tmp_path, 'python3', '3.9')
    proc = check_python(tmp_path)
    assert proc.returncode == 1
    assert 'Python 3.11 is required' in proc.stderr
    assert 'python3: Python 3.9' in proc.stderr
    assert 'python3.11: not found' in proc.stderr
    assert proc.stdout == ''


def test_prefers_python3_11_over_another_python3(tmp_path):
    fake_python(tmp_path, 'python3', '3.12')
    wanted = fake_python(tmp_path, 'python3.11', '3.11')
    proc = check_python(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == wanted


def test_python3_is_used_when_it_is_3_11(tmp_path):
    wanted = fake_python(tmp_path, 'python3', '3.11')
    proc = check_python(tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, wanted)


def test_ivslab_python_must_be_3_11_too(tmp_path):
    fake_python(tmp_path, 'python3.11', '3.11')
    other = fake_python(tmp_path, 'py312', '3.12')
    proc = check_python(tmp_path, IVSLAB_PYTHON=other)
    assert proc.returncode == 1
    assert f'{other}: Python 3.12' in proc.stderr


def test_no_python_at_all(tmp_path):
    proc = check_python(tmp_path)
    assert proc.returncode == 1
    assert 'python3: not found' in proc.stderr
    assert not os.listdir(tmp_path)  # nothing created
