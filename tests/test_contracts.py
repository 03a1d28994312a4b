"""The house's import rules: the contracts of pyproject.toml (import-linter), and no import circle anywhere."""

import sys

import grimp

from tests.helpers import REPO

PACKAGES = ("aecore", "dashboard", "app_pages", "benchmarks", "tools")


def test_the_import_contracts_hold(monkeypatch, capsys):
    from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

    monkeypatch.chdir(REPO)  # lint-imports as a developer runs it, from the repository's root
    status = lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True)
    out = capsys.readouterr().out
    assert status == EXIT_STATUS_SUCCESS, out[-4000:]
    assert "0 broken" in out


def circles(graph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm), function-local imports included."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(module):
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in graph.modules or not other.startswith(PACKAGES):
                continue
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module.startswith(PACKAGES) and module not in index:
            visit(module)
    return found


def test_no_imports_run_in_a_circle():
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    assert circles(graph) == []


def test_a_circle_is_found():
    graph = grimp.ImportGraph()
    for module in ("aecore.a", "aecore.b", "aecore.c"):
        graph.add_module(module)
    graph.add_import(importer="aecore.a", imported="aecore.b")
    graph.add_import(importer="aecore.b", imported="aecore.a")
    graph.add_import(importer="aecore.b", imported="aecore.c")
    assert circles(graph) == [["aecore.a", "aecore.b"]]
