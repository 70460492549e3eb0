"""Dependencies point one way: the cycles the scale review found must not come back.

Imports are read from the source (including imports inside functions, which
hide cycles from Python but not from a reader).
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports_of(package):
    """``{module: {imported module, ...}}`` for every module under ``package``."""
    found = {}
    base = ROOT / package.replace(".", "/")
    paths = [base.with_suffix(".py")] if base.with_suffix(".py").exists() else sorted(base.rglob("*.py"))
    assert paths, f"no module {package}"
    for path in paths:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[module] = names
    return found


@pytest.mark.parametrize("lower, upper", [
    ("webapp.casdoor", "webapp.auth"),          # Casdoor is a client; sign-in uses it, not the reverse
    ("webapp.stores.models", "webapp.stores.scoping"),
    ("webapp.stores.models", "webapp.stores.access"),
    ("webapp.stores.access", "webapp.stores.scoping"),  # policy does not know about requests' URLs
    ("webapp.jobs", "webapp.stores"),           # the job mechanism knows no feature
    ("webapp.sessions", "webapp.stores"),
    ("bench", "tests"),                         # the benchmark runs without the test suite
    ("scripts", "tests"),
])
def test_no_upward_imports(lower, upper):
    offenders = {module: sorted(name for name in names if name == upper or name.startswith(upper + "."))
                 for module, names in imports_of(lower).items()}
    offenders = {module: names for module, names in offenders.items() if names}
    assert offenders == {}, f"{lower} must not import {upper}"


def test_no_test_module_imports_another():
    """Tests share code through ``tests.support`` (and ``bench.datasets``): a test module or a
    conftest imported by another ties the two together: moving or deleting one breaks the other."""
    def is_test_module(name):
        parts = name.split(".")
        return parts[0] == "tests" and any(part.startswith("test_") or part == "conftest" for part in parts[1:])

    offenders = {module: sorted(filter(is_test_module, names)) for module, names in imports_of("tests").items()}
    offenders = {module: names for module, names in offenders.items() if names}
    assert offenders == {}
