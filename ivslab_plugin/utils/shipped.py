"""Where the configs and tools shipped with the package are.

A wheel (``pip install .``, ``mim``) carries them in ``ivslab_plugin/.mim/``,
as MMPose does (``setup.py`` copies them there at build time). A source
checkout used in place (an editable install, or ``PYTHONPATH``) has no copy:
there they are the ``configs/`` and ``tools/`` folders beside the package.
This module is the one place that knows both layouts.
"""
from __future__ import annotations

import os.path as osp

PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Folders that setup.py ships in ``.mim`` (MMPose ships the same two).
SHIPPED = ('configs', 'tools')


def shipped_dir(name: str) -> str:
    """The shipped folder ``name`` (``'configs'`` or ``'tools'``).

    Raises:
        FileNotFoundError: neither layout has it (a broken install).
    """
    if name not in SHIPPED:
        raise ValueError(f'{name!r} is not shipped with the package (only {SHIPPED})')
    candidates = [osp.join(PACKAGE_DIR, '.mim', name),
                  osp.join(osp.dirname(PACKAGE_DIR), name)]
    for candidate in candidates:
        if osp.isdir(candidate):
            return candidate
    raise FileNotFoundError(f'no {name}/ folder shipped with ivslab_plugin (tried {candidates}); '
                            'reinstall the package')


def shipped_config(*parts: str) -> str:
    """Path of a config under ``configs/`` (``shipped_config('ivslab',
    'student.py')``); with no parts, the ``configs/`` folder itself."""
    return osp.join(shipped_dir('configs'), *parts)


def shipped_tool(*parts: str) -> str:
    """Path of a script under ``tools/`` (``shipped_tool('train.py')``)."""
    return osp.join(shipped_dir('tools'), *parts)
