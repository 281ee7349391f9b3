"""The package's import graph, read with ``ast``: imports run one way (``docs/design.md``).

Every ``import`` and ``from ... import`` in ``pmnet_plugin/``, at module level or inside a function, is an
edge to the module or package it names. The graph must have no cycle, and nothing reachable from
``datasets/`` may be in ``apis/`` (a dataset does not depend on the inference API). Importing a submodule
also runs its parents' ``__init__``; that implicit edge is left out, or every module would reach every other
one through ``pmnet_plugin/__init__.py``.
"""
import ast
import os
import os.path as osp
from typing import Dict, List, Set

PACKAGE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'pmnet_plugin')


def package_modules(root: str = PACKAGE) -> Dict[str, str]:
    """Dotted module name -> file, for every ``.py`` under ``root`` (``pkg/__init__.py`` is ``pkg``)."""
    modules = {}
    base = osp.dirname(root)
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                dotted = osp.relpath(path, base)[:-3].replace(os.sep, '.')
                modules[dotted[:-len('.__init__')] if dotted.endswith('.__init__') else dotted] = path
    return modules


def _known(name: str, modules: Dict[str, str]) -> str:
    """The longest prefix of ``name`` that is a module of the package ('' for an outside module)."""
    while name and name not in modules:
        name = name.rpartition('.')[0]
    return name


def import_edges(module: str, path: str, modules: Dict[str, str]) -> Set[str]:
    """The package modules that ``module`` imports (relative imports resolved)."""
    package = module if path.endswith('__init__.py') else module.rpartition('.')[0]
    targets: List[str] = []
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ''
            if node.level:
                parent = package.split('.')[:len(package.split('.')) - node.level + 1]
                source = '.'.join(parent + ([source] if source else []))
            # `from pkg import sub` names the submodule when there is one, else a name in pkg
            targets += [f'{source}.{alias.name}' if f'{source}.{alias.name}' in modules else source
                        for alias in node.names]
    return {t for t in map(lambda n: _known(n, modules), targets) if t and t != module}


def import_graph() -> Dict[str, Set[str]]:
    modules = package_modules()
    return {m: import_edges(m, p, modules) for m, p in modules.items()}


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import cycle as ``[a, b, ..., a]``, or ``[]`` (depth-first search)."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return []


def reachable(graph: Dict[str, Set[str]], start: str) -> Set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_the_walker_resolves_relative_imports_and_finds_a_cycle(tmp_path):
    pkg = tmp_path / 'pkg'
    (pkg / 'sub').mkdir(parents=True)
    (pkg / '__init__.py').write_text('from . import sub\n')
    (pkg / 'sub' / '__init__.py').write_text('from .a import f\n')
    (pkg / 'sub' / 'a.py').write_text('def f():\n    from ..b import g\n')
    (pkg / 'b.py').write_text('from pkg.sub.a import f\nimport numpy\n')
    modules = package_modules(str(pkg))
    graph = {m: import_edges(m, p, modules) for m, p in modules.items()}
    assert graph == {'pkg': {'pkg.sub'}, 'pkg.sub': {'pkg.sub.a'}, 'pkg.sub.a': {'pkg.b'},
                     'pkg.b': {'pkg.sub.a'}}
    assert find_cycle(graph) == ['pkg.sub.a', 'pkg.b', 'pkg.sub.a']


def test_no_import_cycle_in_the_package():
    cycle = find_cycle(import_graph())
    assert not cycle, 'import cycle: ' + ' -> '.join(cycle)


def test_datasets_do_not_reach_the_inference_api():
    graph = import_graph()
    for module in (m for m in graph if m.startswith('pmnet_plugin.datasets')):
        bad = sorted(m for m in reachable(graph, module) if m.startswith('pmnet_plugin.apis'))
        assert not bad, f'{module} imports {bad} (directly or through other modules)'


def test_the_package_does_not_import_the_tool_only_analysis_code():
    graph = import_graph()
    users = sorted(m for m, targets in graph.items() if not m.startswith('pmnet_plugin.analysis')
                   and any(t.startswith('pmnet_plugin.analysis') for t in targets))
    assert not users, f'{users} import pmnet_plugin.analysis, which only the tools use'
