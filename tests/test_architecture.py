"""The architecture holds: apps depend one way, pure cores stay pure (docs: ../shared/style.md).

``accounts ← metering ← billing ← disputes ← finance``: an app imports only from apps to its left —
their services, selectors, models and pure modules, never their views, APIs, URLs or
tasks. The decision engine and the other pure cores import nothing from Django, directly
or through another project module. A short AST walk over the source, no import-linter.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps as django_apps

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "metering", "billing", "disputes", "finance")  # left to right
SKIPPED_DIRS = {"migrations", "tests", "__pycache__"}
# Entry points of an app: nobody else imports them (tasks are enqueued by dotted path).
ENTRY_POINT = re.compile(r"^(\w+_)?(views|api|apis|tasks|urls)$")
# Pure cores: plain functions over frozen dataclasses, no Django (style.md "Pure cores").
PURE_CORES = (
    "metering/engine.py",
    "metering/criteria_changes.py",
    "billing/caps.py",
    "billing/contracts.py",
    "billing/pricing/__init__.py",
    "billing/pricing/period.py",
    "billing/pricing/estimates.py",
    "billing/pricing/models/__init__.py",
    "finance/scenarios.py",
    "billing/moneylog/canonical.py",
    "outcomeportal/core/money.py",
    "outcomeportal/core/periods.py",
    "outcomeportal/core/cursors.py",
    "outcomeportal/core/numbers.py",
    "outcomeportal/core/csvsafe.py",
    "outcomeportal/core/currencies.py",
    "outcomeportal/core/formatting.py",
)
# What an app may use of the project package: its kernel, the API plumbing (errors, cursors,
# renderers…) and the portal's signing keys. Settings, URLs and the rest of the package compose the
# apps; the apps never import them.
PROJECT_HELPERS = (
    "outcomeportal.core",
    "outcomeportal.api",
    "outcomeportal.cli",
    "outcomeportal.env",
    "outcomeportal.signing",
)
# Only these project modules may import the apps: they compose them.
COMPOSERS = {"outcomeportal/urls.py", "outcomeportal/settings.py"}
FRAMEWORKS = ("django", "rest_framework", "drf_spectacular", "django_q", "psycopg")


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository
    line: int
    module: str  # the dotted name imported


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(path: Path) -> str:
    module = _module_name(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imports_of(path: Path) -> list[Import]:
    """Every module a file imports, anywhere in it (function-local imports and import_module too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    rel = str(path.relative_to(ROOT))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(rel, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's package
                package = _package_of(path).split(".")
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            found.append(Import(rel, node.lineno, base))
            # `from billing import api` imports the module billing.api
            found += [Import(rel, node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(Import(rel, node.lineno, node.args[0].value))
    return found


def app_files(app: str) -> list[Path]:
    return sorted(p for p in (ROOT / app).rglob("*.py") if not SKIPPED_DIRS & set(p.relative_to(ROOT / app).parts[:-1]))


def _is_submodule_alias(module: str) -> bool:
    """`from accounts.models import Account` also yields accounts.models.Account: not a module."""
    return bool(module.split(".")[-1][:1].isupper())


# --- Direction between apps ------------------------------------------------------------------


def test_the_walk_sees_every_app_and_its_modules():
    for app in APPS:
        assert django_apps.get_app_config(app).path == str(ROOT / app)
        files = {str(p.relative_to(ROOT)) for p in app_files(app)}
        assert f"{app}/models.py" in files
        assert not any("/migrations/" in f for f in files)
    assert "metering/engine.py" in {str(p.relative_to(ROOT)) for p in app_files("metering")}


def leftward_violations(app: str) -> list[str]:
    allowed = set(APPS[: APPS.index(app) + 1])
    return [
        f"{imp.path}:{imp.line} imports {imp.module}"
        for path in app_files(app)
        for imp in imports_of(path)
        if imp.module.split(".")[0] in APPS and imp.module.split(".")[0] not in allowed
    ]


def entry_point_violations(app: str) -> list[str]:
    violations = []
    for path in app_files(app):
        for imp in imports_of(path):
            parts = imp.module.split(".")
            # billing.api, and billing.spend.api in a sub-package: any module part after the app.
            if parts[0] in APPS and parts[0] != app and any(ENTRY_POINT.match(part) for part in parts[1:]):
                violations.append(f"{imp.path}:{imp.line} imports {imp.module}")
    return violations


@pytest.mark.parametrize("app", APPS)
def test_app_imports_only_apps_to_its_left(app):
    assert leftward_violations(app) == [], f"{app} may import only {APPS[: APPS.index(app) + 1]}"


@pytest.mark.parametrize("app", APPS)
def test_no_app_imports_another_apps_views_api_urls_or_tasks(app):
    assert entry_point_violations(app) == []


def test_cross_app_foreign_keys_point_left_and_add_no_reverse_accessor():
    violations = []
    for app in APPS:
        for model in django_apps.get_app_config(app).get_models():
            for f in model._meta.get_fields():
                if not (f.is_relation and f.concrete and f.related_model):
                    continue
                target = f.related_model._meta.app_label
                if target == app or target not in APPS:
                    continue
                where = f"{model._meta.label}.{f.name} → {f.related_model._meta.label}"
                if APPS.index(target) > APPS.index(app):
                    violations.append(f"{where}: points right")
                if f.remote_field.related_name != "+":
                    violations.append(f"{where}: related_name={f.remote_field.related_name!r}, not '+'")
    assert violations == [], "\n".join(violations)


# --- The project package and its kernel ---------------------------------------------------------


def project_violations() -> list[str]:
    """Apps use only the kernel and API helpers of ``outcomeportal``; it imports apps only to compose them
    (settings, URLs) — its kernel never."""
    violations = []
    for app in APPS:
        for path in app_files(app):
            for imp in imports_of(path):
                project = imp.module.split(".")[0] == "outcomeportal" and imp.module != "outcomeportal"
                if project and not imp.module.startswith(PROJECT_HELPERS):
                    violations.append(f"{imp.path}:{imp.line} imports {imp.module}")
    for path in sorted((ROOT / "outcomeportal").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        for imp in imports_of(path):
            if imp.module.split(".")[0] in APPS and (rel not in COMPOSERS or rel.startswith("outcomeportal/core/")):
                violations.append(f"{imp.path}:{imp.line} imports {imp.module}")
    return violations


def test_apps_use_only_the_kernel_and_helpers_and_only_settings_and_urls_import_apps():
    assert project_violations() == []


# --- Size: modules and functions one can read through ------------------------------------------

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


@pytest.mark.parametrize("package", [*APPS, "outcomeportal"])
def test_no_module_over_600_lines_and_no_function_over_80(package):
    too_long = []
    for path in app_files(package):
        text = path.read_text()
        rel = path.relative_to(ROOT)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{rel}:{node.lineno} {node.name}(): {length} lines")
    assert not too_long, "split these: " + "; ".join(too_long)


def test_the_kernel_imports_only_the_standard_library():
    # ... and itself: money takes each currency's minor unit from the kernel's ISO 4217 table.
    for path in sorted((ROOT / "outcomeportal/core").rglob("*.py")):
        tops = {i.module.split(".")[0] for i in imports_of(path) if not i.module.startswith("outcomeportal.core")}
        assert tops <= set(sys.stdlib_module_names) | {"__future__"}, path


# --- Pure cores ------------------------------------------------------------------------------


def _module_path(module: str) -> Path | None:
    for candidate in (
        ROOT / Path(*module.split(".")).with_suffix(".py"),
        ROOT / Path(*module.split(".")) / "__init__.py",
    ):
        if candidate.exists():
            return candidate
    return None


def _closure(path: Path) -> dict[str, list[Import]]:
    """The file and every project module it imports, transitively: file → its imports."""
    seen: dict[str, list[Import]] = {}
    todo = [path]
    while todo:
        current = todo.pop()
        rel = str(current.relative_to(ROOT))
        if rel in seen:
            continue
        seen[rel] = imports_of(current)
        for imp in seen[rel]:
            target = _module_path(imp.module)
            if target is not None and not _is_submodule_alias(imp.module):
                todo.append(target)
    return seen


def test_the_engine_imports_nothing_from_django():
    imports = imports_of(ROOT / "metering/engine.py")
    assert [i.module for i in imports if i.module.split(".")[0] == "django"] == []
    assert {i.module.split(".")[0] for i in imports} <= set(sys.stdlib_module_names) | {"__future__"}


@pytest.mark.parametrize("core", PURE_CORES)
def test_pure_cores_import_no_framework_even_indirectly(core):
    closure = _closure(ROOT / core)
    violations = [
        f"{imp.path}:{imp.line} imports {imp.module}"
        for imports in closure.values()
        for imp in imports
        if imp.module.split(".")[0] in FRAMEWORKS
    ]
    assert violations == [], f"{core} must stay pure:\n" + "\n".join(violations)


# --- The walker itself -----------------------------------------------------------------------


def test_imports_of_sees_every_kind_of_import(tmp_path, monkeypatch):
    package = tmp_path / "metering"
    package.mkdir()
    source = package / "sample.py"
    source.write_text(
        "import billing.services\n"
        "from disputes import api\n"
        "from . import engine\n"
        "from .models import Event\n"
        "def later():\n"
        "    from billing.tasks import run\n"
        "    return importlib.import_module('disputes.views')\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    modules = {i.module for i in imports_of(source)}
    assert {
        "billing.services",
        "disputes",
        "disputes.api",
        "metering",
        "metering.engine",
        "metering.models",
        "metering.models.Event",
        "billing.tasks",
        "billing.tasks.run",
        "disputes.views",
    } == modules


def test_the_rules_catch_what_they_forbid(tmp_path, monkeypatch):
    for app in APPS:
        (tmp_path / app / "migrations").mkdir(parents=True)
    (tmp_path / "accounts/services.py").write_text("from metering.models import Event\n")
    (tmp_path / "accounts/migrations/0001_initial.py").write_text("import billing.models\n")  # skipped
    (tmp_path / "metering/ingest.py").write_text(
        "from accounts.services import api_key_hash\nfrom billing import caps\n"
    )
    (tmp_path / "billing/services.py").write_text(
        "from metering import api\nfrom metering.tasks import settle\nfrom accounts.views import x\n"
        "from metering.selectors import event_list\nfrom billing.views import y\nimport billing.spend.api\n"
    )
    (tmp_path / "disputes/services.py").write_text("from billing.spend.api import z\nfrom billing.services import w\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)

    assert leftward_violations("accounts") == [
        "accounts/services.py:1 imports metering.models",
        "accounts/services.py:1 imports metering.models.Event",
    ]
    assert leftward_violations("metering") == [
        "metering/ingest.py:2 imports billing",
        "metering/ingest.py:2 imports billing.caps",
    ]
    assert leftward_violations("billing") == leftward_violations("disputes") == []
    assert entry_point_violations("billing") == [
        "billing/services.py:1 imports metering.api",
        "billing/services.py:2 imports metering.tasks",
        "billing/services.py:2 imports metering.tasks.settle",
        "billing/services.py:3 imports accounts.views",
        "billing/services.py:3 imports accounts.views.x",
    ]
    assert entry_point_violations("disputes") == [
        "disputes/services.py:1 imports billing.spend.api",
        "disputes/services.py:1 imports billing.spend.api.z",
    ]


# --- No callbacks into metering's decisions ---------------------------------------------------

# Where an app on the right may still plug in to metering: the demo's stages only. Ingestion,
# settlement and signals are billing's use cases that call metering, never called back
# (billing/ingestion.py); the pages that show events with their charges are billing's (billing/audit).
REGISTRIES_ALLOWED = {"metering/demo/hooks.py"}


def test_metering_offers_no_callback_registry_outside_the_demo():
    found = []
    for path in app_files("metering"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.endswith("_register"):
                rel = str(path.relative_to(ROOT))
                if rel not in REGISTRIES_ALLOWED:
                    found.append(f"{rel}:{node.lineno} {node.name}")
    assert found == []
