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

#: deploy's parts from the bottom up: a part imports only parts before it
#: (and the bottom floor imports only within itself, in no circle).
DEPLOY_FLOORS = [('configs', 'model', 'data', 'assets'), ('lite', ), ('infer', ),
                 ('convert', ), ('verify', ), ('cli', )]
LOWER = ('datasets', 'models', 'evaluation')
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


def floor(mod: str) -> int:
    p = part(mod)
    for i, names in enumerate(DEPLOY_FLOORS):
        if p in names:
            return i
    raise AssertionError(f'{mod}: not in a deploy floor; add it to DEPLOY_FLOORS')


def test_lower_floors_import_no_upper_ones():
    _, edges = graph()
    bad = [f'{m} -> {t} (line {ln})' for m, ts in edges.items()
           for t, ln in ts.items()
           if m.split('.')[1:2] and m.split('.')[1] in LOWER
           and t.split('.')[1:2] and t.split('.')[1] in ('deploy', 'apis')]
    bad += [f'{m} -> {t} (line {ln})' for m, ts in edges.items()
            for t, ln in ts.items()
            if m.startswith('ivslab_plugin.deploy') and t.startswith('ivslab_plugin.apis')]
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


@pytest.mark.parametrize('mutation', ['upward', 'circle'])
def test_the_checks_catch_a_violation(monkeypatch, mutation):
    """The rules fail on a planted violation (so they are not vacuous)."""
    real_imports = imports

    def planted(module, path, is_pkg):
        yield from real_imports(module, path, is_pkg)
        if module == 'ivslab_plugin.deploy.lite.spec' and mutation == 'upward':
            yield 'ivslab_plugin.deploy.infer.backends', 1
        if module == 'ivslab_plugin.deploy.configs' and mutation == 'circle':
            yield 'ivslab_plugin.deploy.model', 1
    monkeypatch.setattr(sys.modules[__name__], 'imports', planted)
    check = test_deploy_parts_import_only_lower_parts if mutation == 'upward' \
        else test_no_import_circles
    with pytest.raises(AssertionError):
        check()
