"""The package's layering (docs/architecture.md), checked on the source.

Every import counts, also those inside functions: a lazy import hides a
circle from Python, not from a reader.
"""
import ast
import os
import os.path as osp
import sys

import pytest

from conftest import REPO_ROOT

PKG = osp.join(REPO_ROOT, 'ivslab_plugin')

#: The package's parts from the bottom up: a part imports only parts on its
#: own floor's bottom (floor 0 mixes freely) or below it; two parts on one
#: floor (deploy, training) import nothing of each other.
FLOORS = [('compat', 'utils', 'version'), ('datasets', 'models', 'evaluation'),
          ('sample_data', ), ('deploy', 'training'), ('analysis', ), ('quickstart', )]
#: deploy's parts from the bottom up, the same way (bundle_files holds the
#: bundle's command line, which imports only the copied device code).
DEPLOY_FLOORS = [('configs', 'model', 'data', 'assets'), ('lite', ), ('infer', ),
                 ('convert', ), ('verify', ), ('exports', ), ('bundle_files', )]
#: What the device code may import at all (it is copied into bundles and
#: runs without the training stack); runtimes are imported by name through
#: importlib, when a model is opened.
LITE_ALLOWED = set(sys.stdlib_module_names) | {'numpy', 'cv2'}


def modules():
    """{dotted module name: (path, is_package)} of the package."""
    out = {}
    for root, _, files in os.walk(PKG):
        for name in files:
            if name.endswith('.py') and 'metainfo' not in root:
                path = osp.join(root, name)
                rel = osp.relpath(path, REPO_ROOT)[:-3].replace(os.sep, '.')
                pkg = name == '__init__.py'
                out[rel[:-len('.__init__')] if pkg else rel] = (path, pkg)
    return out


def imports(module: str, path: str, is_pkg: bool):
    """Absolute names of every module ``module`` imports."""
    tree = ast.parse(open(path).read())
    base = module.split('.') if is_pkg else module.split('.')[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = '.'.join(base[:len(base) - node.level + 1])
                name = f'{parent}.{node.module}' if node.module else parent
            else:
                name = node.module
            yield name, node.lineno
            for a in node.names:  # `from pkg import submodule`
                yield f'{name}.{a.name}', node.lineno


def graph():
    mods = modules()
    edges = {}
    for mod, (path, pkg) in mods.items():
        edges[mod] = {}
        for name, line in imports(mod, path, pkg):
            while name and name not in mods:
                name = name.rpartition('.')[0]
            if name and name != mod and not mod.startswith(name + '.'):
                edges[mod].setdefault(name, line)
    return mods, edges


def part(mod: str) -> str:
    bits = mod.split('.')
    return bits[2] if len(bits) > 2 else ''


def top(mod: str) -> str:
    bits = mod.split('.')
    return bits[1] if len(bits) > 1 else ''


def _floor(name: str, floors, mod: str) -> int:
    for i, names in enumerate(floors):
        if name in names:
            return i
    raise AssertionError(f'{mod}: not on a floor; add {name!r} to the floors')


def floor(mod: str) -> int:
    return _floor(part(mod), DEPLOY_FLOORS, mod)


def test_parts_import_only_lower_floors():
    _, edges = graph()
    bad = []
    for m, ts in edges.items():
        if m == 'ivslab_plugin':  # the package's __init__ registers the modules
            continue
        for t, ln in ts.items():
            if top(t) == top(m) or t == 'ivslab_plugin':
                continue
            fm, ft = _floor(top(m), FLOORS, m), _floor(top(t), FLOORS, t)
            if ft > fm or (ft == fm and fm != 0):
                bad.append(f'{m} -> {t} (line {ln})')
    assert not bad, bad


def test_arguments_are_parsed_only_in_tools_and_no_module_runs_a_tool():
    """Command lines live in tools/ (and the bundle's run_model.py); the
    library never starts a script of tools/, which imports the library."""
    bad = []
    for mod, (path, _) in modules().items():
        text = open(path).read()
        for node in ast.walk(ast.parse(text)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) else []
            if 'argparse' in names and part(mod) != 'bundle_files':
                bad.append(f'{mod}:{node.lineno} imports argparse')
        if mod != 'ivslab_plugin.utils.shipped' and 'shipped_tool(' in text:
            bad.append(f'{mod} starts a script of tools/')
    assert not bad, bad


def test_deploy_parts_import_only_lower_parts():
    _, edges = graph()
    bad = []
    for m, ts in edges.items():
        if not m.startswith('ivslab_plugin.deploy.') or m.count('.') < 2:
            continue
        for t, ln in ts.items():
            if not t.startswith('ivslab_plugin.deploy.') or part(t) == part(m):
                continue
            if floor(t) >= floor(m) and not (floor(t) == floor(m) == 0):
                bad.append(f'{m} -> {t} (line {ln})')
    assert not bad, bad


def test_no_import_circles():
    mods, edges = graph()
    # a package's __init__ re-exporting its children is not a circle
    def real(m, t):
        return not t.startswith(m + '.')
    state = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for t in edges.get(m, ()):
            if not real(m, t):
                continue
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2
    for m in sorted(mods):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_device_code_imports_only_numpy_and_cv2():
    mods = modules()
    bad = []
    for mod, (path, pkg) in mods.items():
        if not mod.startswith('ivslab_plugin.deploy.lite'):
            continue
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            bad += [f'{mod}:{node.lineno} imports {n}' for n in names
                    if n.split('.')[0] not in LITE_ALLOWED]
    assert not bad, bad


@pytest.mark.parametrize('mutation', ['upward', 'circle', 'floor'])
def test_the_checks_catch_a_violation(monkeypatch, mutation):
    """The rules fail on a planted violation (so they are not vacuous)."""
    real_imports = imports

    def planted(module, path, is_pkg):
        yield from real_imports(module, path, is_pkg)
        if module == 'ivslab_plugin.deploy.lite.spec' and mutation == 'upward':
            yield 'ivslab_plugin.deploy.infer.backends', 1
        if module == 'ivslab_plugin.deploy.configs' and mutation == 'circle':
            yield 'ivslab_plugin.deploy.model', 1
        if module == 'ivslab_plugin.datasets.tsv' and mutation == 'floor':
            yield 'ivslab_plugin.deploy.lite.submission', 1
    monkeypatch.setattr(sys.modules[__name__], 'imports', planted)
    check = {'upward': test_deploy_parts_import_only_lower_parts,
             'circle': test_no_import_circles,
             'floor': test_parts_import_only_lower_floors}[mutation]
    with pytest.raises(AssertionError):
        check()


def test_every_folder_of_modules_is_a_package():
    """find_packages skips a folder without __init__.py, so a wheel would
    lack its modules; the metainfo files are shipped as package data."""
    data = {osp.join(PKG, 'datasets', 'metainfo')}
    bad = [osp.relpath(root, REPO_ROOT) for root, _, files in os.walk(PKG)
           if any(f.endswith('.py') for f in files) and '__init__.py' not in files
           and root not in data and '.mim' not in root]
    assert not bad, bad
