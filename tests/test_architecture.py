"""The layers of STYLE.md, held by a test: transports on top, pure scikit-learn at the bottom."""

import ast
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


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def python_files(*parts: str) -> list[Path]:
    files = []
    for part in parts:
        path = PACKAGE / part
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


@pytest.mark.parametrize(
    "path", python_files(*LOWER_LAYERS), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_lower_layers_import_no_transport(path):
    roots = {name.split(".")[0] for name in imported_modules(path)}
    assert not roots & TRANSPORT_LIBRARIES, f"{path} imports {roots & TRANSPORT_LIBRARIES}"


@pytest.mark.parametrize("path", python_files("ml"), ids=lambda p: p.name)
def test_ml_code_touches_no_database(path):
    roots = {name.split(".")[0] for name in imported_modules(path)}
    assert not roots & {"sqlmodel", "sqlalchemy", "redis"}
    assert not {n for n in imported_modules(path) if n.startswith("tuning.service")}


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
