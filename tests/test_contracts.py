"""The house's import rules: the contracts of pyproject.toml (import-linter), and no import circle anywhere."""

import subprocess
import sys

import grimp

from tests.helpers import REPO

PACKAGES = ("aecore", "dashboard", "app_pages", "benchmarks", "tools")


def test_the_import_contracts_hold():
    # lint-imports as a developer runs it, from the repository's root; in its own process, as its console
    # output takes over the process's standard streams.
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
    lint = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-4000:] + lint.stderr[-2000:]
    assert "0 broken" in lint.stdout


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
