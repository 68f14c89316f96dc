"""The layers of STYLE.md, held by a test: transports on top, pure scikit-learn at the bottom."""

import ast
import functools
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from tuning.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "tuning"
TRANSPORT_LIBRARIES = {"streamlit", "fastapi", "celery", "kombu", "uvicorn"}
# Below the transports: none of these may import a transport library.
LOWER_LAYERS = ["ml", "service", "models.py", "db.py", "schemas.py", "errors.py", "config.py"]


@functools.cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


@functools.cache
def imported_modules(path: Path) -> frozenset[str]:
    tree = parsed(path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return frozenset(names)


def python_files(*parts: str) -> list[Path]:
    files = []
    for part in parts:
        path = PACKAGE / part
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def module_path(module: str) -> Path | None:
    """The file of a `tuning.*` module (a package's __init__), or None for anything else."""
    if not module.startswith("tuning"):
        return None
    base = PROJECT_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def imported_closure(path: Path) -> frozenset[str]:
    """Every module `path` imports, directly or through the `tuning` modules it imports
    (cached, as `parsed`: some 150 tests walk the same modules)."""
    seen: set[str] = set()
    todo = [path]
    visited: set[Path] = set()
    while todo:
        current = todo.pop()
        if current in visited:
            continue
        visited.add(current)
        for name in imported_modules(current):
            seen.add(name)
            # `from tuning.ml import catalog` names a module too
            for candidate in (name, *(f"{name}.{n}" for n in _from_names(current, name))):
                found = module_path(candidate)
                if found is not None:
                    todo.append(found)
    return frozenset(seen)


@functools.cache
def _from_names(path: Path, module: str) -> list[str]:
    tree = parsed(path)
    return [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == module
        for alias in node.names
    ]


def roots(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize(
    "path", python_files(*LOWER_LAYERS), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_lower_layers_import_no_transport_even_indirectly(path):
    found = roots(imported_closure(path)) & TRANSPORT_LIBRARIES
    assert not found, f"{path} imports {found}"


@pytest.mark.parametrize("path", python_files("ml"), ids=lambda p: p.name)
def test_ml_code_touches_no_storage_even_indirectly(path):
    imported = imported_closure(path)
    assert not roots(imported) & {"sqlmodel", "sqlalchemy", "redis", "alembic"}
    storage = {"tuning.models", "tuning.db", "tuning.service", "tuning.runtime", "tuning.worker"}
    assert not {name for name in imported if name.startswith(tuple(storage))}


def test_the_closure_follows_indirect_imports():
    # tuning.service.reads.status imports nothing from sqlalchemy's ORM layer by name, but through
    # tuning.models it reaches sqlmodel: the closure must see that.
    assert "sqlmodel" in roots(imported_closure(PACKAGE / "service" / "reads" / "status.py"))
    assert "celery" in roots(imported_closure(PACKAGE / "runtime.py"))


DASHBOARD = [PROJECT_ROOT / "dashboard.py", *sorted((PROJECT_ROOT / "pages").glob("*.py"))]
DASHBOARD += sorted((PROJECT_ROOT / "dashboard_ui").glob("*.py"))


@pytest.mark.parametrize("path", DASHBOARD, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_the_dashboard_reaches_storage_only_through_the_service_layer(path):
    direct = roots(imported_modules(path))
    assert not direct & {"sqlmodel", "sqlalchemy", "celery", "redis", "kombu"}, path


# Every transport: the dashboard, the API's routes, the worker's tasks, the CLI and the supervisor.
TRANSPORTS = DASHBOARD + python_files("api", "worker", "cli.py", "supervisor", "__main__.py")
TRANSPORTS += sorted((PROJECT_ROOT / "bench").glob("*.py"))


@pytest.mark.parametrize("path", TRANSPORTS, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_transports_enter_the_service_layer_only_by_its_root(path):
    below = {n for n in imported_modules(path) if n.startswith("tuning.service.")}
    assert not below, f"{path} reaches around tuning.service: {below}"


def test_the_service_layer_is_grouped_in_subpackages():
    """Modules live in subpackages named for their concern; the root holds only the entry point."""
    service = PACKAGE / "service"
    assert [p.name for p in service.glob("*.py")] == ["__init__.py"]
    groups = {p.parent.name for p in service.rglob("*.py") if p.parent != service}
    assert groups >= {"accounts", "commands", "reads", "execution", "analysis", "operations"}


def test_only_the_dashboard_imports_streamlit():
    for path in PACKAGE.rglob("*.py"):
        assert "streamlit" not in {n.split(".")[0] for n in imported_modules(path)}, path


def test_no_user_input_is_evaluated_unpickled_or_imported_by_name():
    builtins = {"eval", "exec", "compile", "__import__"}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name):
                assert node.func.id not in builtins, f"{path}:{node.lineno} calls {node.func.id}"
            elif isinstance(node.func, ast.Attribute):
                assert node.func.attr != "import_module", f"{path}:{node.lineno} imports by name"
        roots = {name.split(".")[0] for name in imported_modules(path)}
        assert not roots & {"pickle", "joblib", "dill", "cloudpickle"}, path


@pytest.mark.database
def test_migrations_match_the_models(runtime):
    with runtime.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []


@pytest.mark.parametrize("path", python_files("worker"), ids=lambda p: p.name)
def test_no_worker_module_imports_itself_back(path):
    """The worker's modules form no cycle (the tasks once imported housekeeping, which
    imported the tasks back inside a function)."""
    own = f"tuning.worker.{path.stem}"
    for name in imported_modules(path):
        for module in (name, *(f"{name}.{n}" for n in _from_names(path, name))):
            other = module_path(module)
            if other is not None and other != path and module.startswith("tuning.worker."):
                assert own not in imported_closure(other), f"{own} -> {module} -> {own}"


# --- A search is a strategy object, not a string compared in many places ---------------------

STRATEGIES_PACKAGE = PACKAGE / "service" / "searches"
SEARCH_KINDS = {"grid", "random", "halving", "bayes"}


def _names_a_search(node: ast.expr) -> bool:
    """`search`, `run.search`, `run_in.search`, `col(TuningRun.search)`: a search kind's holder."""
    if isinstance(node, ast.Call) and len(node.args) == 1:
        node = node.args[0]
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return isinstance(name, str) and name.lower().endswith("search")


def _kind_literals(node: ast.expr) -> bool:
    """A string, or a tuple, list or set of strings, naming a search kind."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(isinstance(e, ast.Constant) and e.value in SEARCH_KINDS for e in node.elts)
    return False


def search_kind_comparisons(path: Path) -> list[str]:
    """Where `path` compares a search to a kind's name (`run.search == "halving"`, `search in
    ("random", "bayes")`, `.in_(["halving"])`), as file:line."""
    found = []
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_names_a_search(side) for side in sides) and any(
                _kind_literals(side) for side in sides
            ):
                found.append(f"{path.name}:{node.lineno}")
        elif (  # SQL: col(TuningRun.search).in_(["halving"])
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "in_"
            and _names_a_search(node.func.value)
            and any(_kind_literals(arg) for arg in node.args)
        ):
            found.append(f"{path.name}:{node.lineno}")
    return found


CHECKED_FOR_KINDS = [
    path
    for path in [*PACKAGE.rglob("*.py"), *DASHBOARD, *sorted((PROJECT_ROOT / "bench").glob("*.py"))]
    if STRATEGIES_PACKAGE not in path.parents
]


@pytest.mark.parametrize("path", CHECKED_FOR_KINDS, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_no_module_outside_the_strategies_compares_a_search_kind(path):
    """What differs between searches is asked of their strategy (`tuning.service.searches`):
    adding a search touches its own module and the registry, not every `if` on its name."""
    assert not search_kind_comparisons(path), search_kind_comparisons(path)


def test_the_search_kind_check_sees_the_comparisons_it_forbids(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'if run.search == "bayes": pass\n'
        'if search in ("random", "bayes"): pass\n'
        'query.where(col(TuningRun.search) == "halving")\n'
        'query.where(col(TuningRun.search).in_(["halving"]))\n'
        'if method == "bayes": pass\n'  # not a search: allowed
        "if run.search == other.search: pass\n"  # not a literal: allowed
    )
    assert search_kind_comparisons(sample) == [f"sample.py:{n}" for n in (1, 2, 3, 4)]


# --- What runs without the frame's sign-in check ------------------------------------------------

CALLBACKS = {"on_click", "on_change", "on_submit"}


def sign_in_bypasses(path: Path) -> list[str]:
    """Dashboard code that runs without the frame, so without its check of the sign-in: a
    fragment made with `st.fragment` (its reruns skip the frame; `account.fragment` checks), and
    a widget callback that opens a database session (callbacks run before the script) unless it
    is `@signed_in_only`."""
    tree = parsed(path)
    writers = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(_is_attribute(n, "ui", "db") for n in ast.walk(node))
        and not any(
            isinstance(d, ast.Name) and d.id == "signed_in_only" for d in node.decorator_list
        )
    }
    found = [
        f"{path.name}:{node.lineno} st.fragment"
        for node in ast.walk(tree)
        if _is_attribute(node, "st", "fragment")
    ]
    found += [
        f"{path.name}:{node.value.lineno} {node.arg}={node.value.id}"
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword)
        and node.arg in CALLBACKS
        and isinstance(node.value, ast.Name)
        and node.value.id in writers
    ]
    return found


def _is_attribute(node: ast.AST, owner: str, name: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == name
        and isinstance(node.value, ast.Name)
        and node.value.id == owner
    )


ACCOUNT = PROJECT_ROOT / "dashboard_ui" / "account.py"  # where the checked fragment is made


@pytest.mark.parametrize(
    "path", [p for p in DASHBOARD if p != ACCOUNT], ids=lambda p: str(p.relative_to(PROJECT_ROOT))
)
def test_nothing_in_the_dashboard_runs_without_checking_the_sign_in(path):
    assert not sign_in_bypasses(path), sign_in_bypasses(path)


def test_the_sign_in_bypass_check_sees_what_it_forbids(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def save():\n"
        "    with ui.db() as session: pass\n"
        "@signed_in_only\n"
        "def cancel():\n"
        "    with ui.db() as session: pass\n"
        "def ask():\n"
        "    st.session_state['ask'] = True\n"
        "st.button('Save', on_click=save)\n"  # 8: a write before the check
        "st.button('Cancel', on_click=cancel)\n"  # checked: allowed
        "st.button('Ask', on_click=ask)\n"  # no write: allowed
        "@st.fragment(run_every=2)\n"  # 11
        "def live(): pass\n"
        "st.fragment(live)()\n"  # 13
        "fragment(live)()\n"  # account.fragment: allowed
    )
    assert sorted(sign_in_bypasses(sample)) == [
        "sample.py:11 st.fragment",
        "sample.py:13 st.fragment",
        "sample.py:8 on_click=save",
    ]
