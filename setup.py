import os.path as osp

from setuptools import find_packages, setup


def get_version() -> str:
    version_file = osp.join(osp.dirname(__file__), 'ivslab_plugin', 'version.py')
    scope: dict = {}
    with open(version_file) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='ivslab_plugin',
    version=get_version(),
    description='MMPose 1.x plugin for low-power facial-landmark detection '
    '(ICME 2024 ivslab challenge)',
    packages=find_packages(include=['ivslab_plugin', 'ivslab_plugin.*']),
    package_data={'ivslab_plugin': ['datasets/metainfo/*.py']},
    include_package_data=True,
    python_requires='>=3.9',
    license='Apache-2.0',
)
