import os
import os.path as osp
import re
import shutil
import sys
from typing import List

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))

# Requirements that tools/install.sh installs its own way, so that a plain
# `pip install .` never pulls them in a form that breaks the stack:
NOT_INSTALL_REQUIRES = {
    # PyPI's Linux wheel is a multi-GB CUDA build; install.sh installs
    # requirements/torch.txt, from a CPU index when IVSLAB_TORCH_INDEX says so.
    'torch',
    # installed with --no-deps so that it does not replace a CPU torch
    'torchvision',
    # compiled with its ops against the installed torch (no wheel with ops
    # exists for Python 3.11); a plain pip install would build it without care
    'mmcv',
    # its requirements pull chumpy, which does not build on Python 3.11 and
    # which mmpose never imports: installed with --no-deps
    'mmpose',
    # depends on torch: without torch installed first it would pull PyPI's CUDA
    # build; install.sh installs it (runtime.txt) after torch
    'pnnx',
    # build tools of the mmcv compile (requirements/build.txt), not run-time
    # needs; runtime.txt pins the setuptools that mmengine runs with
    'wheel',
    'ninja',
}
# Folders shipped inside the package, as MMPose ships its own in `mmpose/.mim`
# (`mim train ivslab_plugin teacher.py` finds the config and the train script
# there; ivslab_plugin/utils/shipped.py finds them at run time).
MIM_FOLDERS = ('configs', 'tools')
MIM_PATH = osp.join('ivslab_plugin', '.mim')


def get_version() -> str:
    version_file = osp.join(HERE, 'ivslab_plugin', 'version.py')
    scope: dict = {}
    with open(version_file) as f:
        exec(f.read(), scope)
    return scope['__version__']


def parse_requirements(*names: str) -> List[str]:
    """Requirement lines of ``requirements/<name>.txt`` files (pins kept),
    without ``NOT_INSTALL_REQUIRES`` and without build.txt's
    ``setuptools<70`` (only the mmcv compile needs it)."""
    found: List[str] = []
    for name in names:
        with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                if not line:
                    continue
                package = re.split(r'[<>=!~;\[ ]', line, maxsplit=1)[0].lower()
                if package in NOT_INSTALL_REQUIRES or (name == 'build'
                                                       and package == 'setuptools'):
                    continue
                if line not in found:
                    found.append(line)
    return found


def add_mim_extension() -> List[str]:
    """Put ``configs/`` and ``tools/`` into ``ivslab_plugin/.mim``, MMPose's way.

    A wheel or sdist build (``pip install .``) gets copies; an editable
    install (``pip install -e .``) gets symlinks to the live folders. Any
    other command (metadata, egg_info) leaves the tree alone.

    Returns:
        list: the copies made, for ``remove_copies`` after the build, so a
        source checkout never keeps a stale copy that would shadow its own
        ``configs/``.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif 'sdist' in sys.argv or 'bdist_wheel' in sys.argv:
        mode = 'copy'
    else:
        return []
    os.makedirs(osp.join(HERE, MIM_PATH), exist_ok=True)
    copies = []
    for name in MIM_FOLDERS:
        src, dst = osp.join(HERE, name), osp.join(HERE, MIM_PATH, name)
        if not osp.isdir(src):
            # building from an sdist: its .mim already holds the copies
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(src, dst)
        else:
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
            copies.append(dst)
    return copies


def remove_copies(copies: List[str]) -> None:
    for path in copies:
        shutil.rmtree(path, ignore_errors=True)
    mim = osp.join(HERE, MIM_PATH)
    if copies and osp.isdir(mim) and not os.listdir(mim):
        os.rmdir(mim)


if __name__ == '__main__':
    copies = add_mim_extension()
    try:
        setup(
            name='ivslab_plugin',
            version=get_version(),
            description='MMPose 1.x plugin for low-power facial-landmark detection '
            '(ICME 2024 ivslab challenge)',
            packages=find_packages(include=['ivslab_plugin', 'ivslab_plugin.*']),
            package_data={
                'ivslab_plugin': [
                    'datasets/metainfo/*.py',
                    '.mim/configs/**/*.py',
                    '.mim/tools/**/*.py',
                    '.mim/tools/*.sh',
                ]
            },
            include_package_data=True,
            # the only version the pinned stack is tested on (tools/install.sh)
            python_requires='>=3.11,<3.12',
            install_requires=parse_requirements('build', 'runtime'),
            extras_require={
                'tests': parse_requirements('tests'),
                'litert': parse_requirements('litert'),
            },
            license='Apache-2.0',
            zip_safe=False)
    finally:
        remove_copies(copies)
