"""The layer table: which part of ``webapp`` may import which, checked over the whole import graph.

Imports are read from the source, those inside functions included (they hide a
cycle from Python, not from a reader). A part may import itself and the parts
listed before it in ``LAYERS``, never one listed after it, except through the
``SEAMS`` named below. Since the order is strict, two features can only depend
on each other through a seam.

Besides the table: a feature's ``__init__.py`` imports no view at load time,
importing any ``*.models`` module or the pure knowledge modules loads no view
module, every route is declared in its feature's ``blueprint.py``, and no module
is named like a library the project uses.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
while not (ROOT / "webapp").is_dir():
    ROOT = ROOT.parent

#: Lowest first. Each entry: a part's name and the modules it holds (a module and
#: everything below it). The kernel and the platform know no feature; features are
#: ordered so that each relies only on those before it.
LAYERS = [
    ("kernel", ["webapp.core"]),
    ("platform", ["webapp.extensions", "webapp.database", "webapp.cache", "webapp.crypto", "webapp.logs",
                  "webapp.routing", "webapp.urls", "webapp.security", "webapp.errors", "webapp.pagination",
                  "webapp.navigation", "webapp.templating", "webapp.metrics"]),
    ("jobs", ["webapp.jobs"]),
    ("audit", ["webapp.audit"]),
    ("users", ["webapp.users"]),
    ("sessions", ["webapp.sessions"]),
    ("casdoor", ["webapp.casdoor"]),
    ("auth", ["webapp.auth"]),
    ("accounts", ["webapp.accounts"]),
    ("identity", ["webapp.identity"]),
    ("providers", ["webapp.providers"]),
    ("stores", ["webapp.stores"]),
    ("useradmin", ["webapp.useradmin"]),
    ("knowledge", ["webapp.knowledge"]),
    ("chat", ["webapp.chat"]),
    ("billing", ["webapp.billing"]),
    ("main", ["webapp.main"]),
    # Running on several hosts: health, readiness and metrics look at every feature above.
    ("ops", ["webapp.ops"]),
    # The wiring: the factory, every model for Alembic, the schema objects models do not declare.
    ("app", ["webapp", "webapp.models", "webapp.schema"]),
]

#: The only imports that go up the table: (importing module, imported part, why).
SEAMS = [
    ("webapp.providers.access", "stores",
     "providers serve every store, so changing them is server-wide management: the store access policy decides"),
    ("webapp.chat.charging", "billing", "the chat's one way into billing: reserve before, settle after an answer"),
]

#: Knowledge modules documented as pure: no database, no Flask, no other feature.
PURE_KNOWLEDGE = ["webapp.knowledge.parsing", "webapp.knowledge.chunking", "webapp.knowledge.html_blocks",
                  "webapp.knowledge.pdf_text", "webapp.knowledge.blocks", "webapp.knowledge.errors"]


#: Modules that hold routes or views (by their last name).
VIEW_MODULES = ("views", "api", "admin", "blueprint", "casdoor_views")


def module_name(path):
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def read_imports(path, *, top_level_only=False):
    """Every module ``path`` imports (absolute imports; ``from a import b`` yields ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def webapp_modules():
    return {module_name(path): path for path in sorted((ROOT / "webapp").rglob("*.py"))}


MODULES = webapp_modules()


def part_of(module):
    """``(index, name)`` of the part holding ``module`` (the longest matching prefix wins)."""
    best = None
    for index, (name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[2]:
                    best = (index, name, len(prefix))
    return None if best is None else best[:2]


def existing(name):
    """The webapp module an imported name refers to (``webapp.a.b.Symbol`` -> ``webapp.a.b``), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def upward_imports():
    seams = {(module, part) for module, part, _ in SEAMS}
    found = []
    for module, path in MODULES.items():
        here = part_of(module)
        for name in read_imports(path):
            # "webapp" alone is the from-part of ``from webapp import crypto`` (named too, as webapp.crypto)
            target = existing(name) if name.startswith("webapp.") else None
            if target is None:
                continue
            there = part_of(target)
            if there[0] > here[0] and (module, there[1]) not in seams:
                found.append(f"{module} ({here[1]}) imports {target} ({there[1]})")
    return sorted(set(found))


def test_every_module_has_a_place_in_the_table():
    assert sorted(module for module in MODULES if part_of(module) is None) == []


def test_no_part_imports_one_above_it_except_through_a_seam():
    assert upward_imports() == []


def test_every_seam_is_still_used():
    """A seam the code no longer needs comes out of the table (it would allow a new cycle)."""
    for module, part, _ in SEAMS:
        targets = {part_of(existing(name))[1] for name in read_imports(MODULES[module])
                   if name.startswith("webapp.") and existing(name)}
        assert part in targets, f"{module} no longer imports {part}: drop the seam"


def test_the_kernel_and_the_platform_import_no_feature():
    features = {name for name, _ in LAYERS[2:]}
    for module, path in MODULES.items():
        if part_of(module)[1] in ("kernel", "platform"):
            offenders = {part_of(existing(name))[1] for name in read_imports(path)
                         if name.startswith("webapp.") and existing(name)} & features
            assert offenders == set(), f"{module} imports {offenders}"


def test_the_kernel_imports_no_flask_where_it_can_avoid_it():
    """Only the request-facing parts of the kernel (JSON bodies, forms) may use Flask."""
    for module, path in MODULES.items():
        if module.startswith("webapp.core") and module not in ("webapp.core.bodies", "webapp.core.forms"):
            flask = {name for name in read_imports(path) if name.split(".")[0] in ("flask", "flask_wtf", "sqlalchemy")}
            assert flask == set(), f"{module} imports {flask}"


@pytest.mark.parametrize("feature", [path.parent.name for path in sorted((ROOT / "webapp").glob("*/__init__.py"))])
def test_a_feature_package_imports_no_view_and_no_other_feature_at_load_time(feature):
    """So importing one of its models never drags views (and half the app) in: routes and
    commands are registered by ``init_app``, which imports them when the app is built."""
    path = ROOT / "webapp" / feature / "__init__.py"
    loaded = {existing(name) for name in read_imports(path, top_level_only=True) if name.startswith("webapp.")}
    own = f"webapp.{feature}"
    offenders = {module for module in loaded
                 if not (part_of(module)[1] in ("kernel", "platform")
                         or module.startswith(own + ".") and module.rpartition(".")[2] not in VIEW_MODULES)}
    assert offenders == set()


def loaded_by(module):
    """The webapp modules a fresh interpreter has loaded after ``import module``."""
    code = (f"import sys; import {module}; "
            "print('\\n'.join(sorted(m for m in sys.modules if m == 'webapp' or m.startswith('webapp.'))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.endswith(".models")) + PURE_KNOWLEDGE)
def test_importing_models_or_pure_modules_loads_no_view(module):
    loaded = loaded_by(module)
    assert sorted(m for m in loaded if m.rpartition(".")[2] in VIEW_MODULES) == []


@pytest.mark.parametrize("module", PURE_KNOWLEDGE)
def test_pure_knowledge_modules_need_no_database_flask_or_feature(module):
    seen, todo, outside = set(), [module], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in read_imports(MODULES[current]):
            if name.split(".")[0] in ("flask", "flask_wtf", "sqlalchemy", "flask_sqlalchemy"):
                outside.add(name)
            target = existing(name) if name.startswith("webapp.") else None
            if target is not None and MODULES[target].name != "__init__.py":  # a package's wiring is not a dependency
                if part_of(target)[1] not in ("kernel", "knowledge"):
                    outside.add(target)
                todo.append(target)
    assert outside == set()


def test_routes_are_declared_only_in_blueprint_modules():
    """A feature's URL map is one file: no route decorators, no Blueprint or add_url_rule elsewhere."""
    offenders = []
    for module, path in MODULES.items():
        if module.endswith(".blueprint") or module == "webapp.routing":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                decorator = isinstance(node.func, ast.Attribute) and name in ("route", "get", "post", "put",
                                                                              "patch", "delete") \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id.endswith("bp")
                if name in ("Blueprint", "add_url_rule") or decorator:
                    offenders.append(f"{module}:{node.lineno} {name}")
    assert offenders == []


def test_every_registered_route_comes_from_a_blueprint_module(app):
    """Nothing registers URLs behind the blueprints' back (``static`` is Flask's own)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        blueprint = app.blueprints[rule.endpoint.partition(".")[0]]
        assert blueprint.import_name.endswith(".blueprint"), (rule.rule, blueprint.import_name)
        assert view.__module__.startswith(blueprint.import_name.rpartition(".")[0]) \
            or view.__module__ == "webapp.routing", (rule.rule, view.__module__)


def test_no_module_is_named_like_a_library_it_might_import():
    """``webapp/knowledge/requests.py`` once shadowed the HTTP library's name for a reader."""
    libraries = set(sys.stdlib_module_names) | {"requests", "redis", "openai", "flask", "sqlalchemy", "pydantic",
                                                 "click", "werkzeug", "jinja2", "alembic", "authlib", "pypdf"}
    clashes = [module for module, path in MODULES.items()
               if path.name != "__init__.py" and path.stem in libraries]
    assert clashes == []


def imports_under(folder):
    """``{module: {imported name, ...}}`` for every module under the top-level ``folder``."""
    return {module_name(path): read_imports(path) for path in sorted((ROOT / folder).rglob("*.py"))}


@pytest.mark.parametrize("folder", ["bench", "scripts"])
def test_the_benchmark_and_the_scripts_run_without_the_test_suite(folder):
    offenders = {module: sorted(name for name in names if name == "tests" or name.startswith("tests."))
                 for module, names in imports_under(folder).items()}
    assert {module: names for module, names in offenders.items() if names} == {}


def test_no_test_module_imports_another():
    """Tests share code through ``tests.support`` (and ``bench.datasets``): a test module or a
    conftest imported by another ties the two together; moving or deleting one breaks the other."""
    def is_test_module(name):
        parts = name.split(".")
        return parts[0] == "tests" and any(part.startswith("test_") or part == "conftest" for part in parts[1:])

    offenders = {module: sorted(filter(is_test_module, names)) for module, names in imports_under("tests").items()}
    assert {module: names for module, names in offenders.items() if names} == {}
