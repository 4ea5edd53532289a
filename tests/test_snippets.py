"""Every code snippet of README.md, docs/ and the checks' hints runs, as the reader would.

Each Python block carries a marker saying what it is (see tests/docs.py). The blocks of a
group are applied to a project made by ``django-admin startproject mysite`` (or to the
project of the group it builds on, e.g. the quickstart's), then ``manage.py check`` runs
with every module the snippets created imported: it must report no issue at all, not even
a warning. Serving the quickstart and the multi-tenant guide for real is
tests/test_quickstart.py's job.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatter import checks, checks_asgi
from tests import docs

GROUPS = docs.groups()
# Groups whose projects others build on; built once for the module.
BASES = ("quickstart", "tenants")
# Groups built on a fresh startproject, checked each on its own.
FRESH = sorted(
    name for name, members in GROUPS.items() if members[0].base is None and name not in BASES
)
OTHERS = sorted(name for name in GROUPS if name not in BASES and name not in FRESH)


def only_file_commands(project: docs.Project, args: list[str]) -> None:
    """Of a console block, run what creates files (``startapp``); the rest needs servers."""
    if args[:3] == ["python", "manage.py", "startapp"]:
        project.manage(*args[2:])


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, docs.Project]:
    quickstart = docs.build(
        "quickstart", tmp_path_factory.mktemp("quickstart"), command=only_file_commands
    )
    tenants = docs.build(
        "tenants", tmp_path_factory.mktemp("tenants"), command=only_file_commands, base=quickstart
    )
    return {"quickstart": quickstart, "tenants": tenants}


def passes_check(project: docs.Project) -> None:
    output = project.check()
    assert "System check identified no issues (0 silenced)." in output, output


def test_every_python_block_is_marked() -> None:
    unmarked = [b.where for b in docs.all_blocks() if b.is_python and b.marker is None]
    assert unmarked == [], f"Python blocks without a snippet marker: {unmarked}"
    for name, members in GROUPS.items():
        base = members[0].base
        assert base is None or base in BASES, f"group {name!r} builds on unknown {base!r}"


def test_the_parser_finds_the_blocks_a_reader_sees() -> None:
    quickstart = [s for s in GROUPS["quickstart"] if s.action != "run"]
    assert [s.path for s in quickstart] == [
        "mysite/settings.py",
        "mysite/settings.py",
        "mysite/settings.py",
        "templates/registration/login.html",
        "mysite/urls.py",
        "mysite/asgi.py",
    ]
    assert quickstart[0].code.startswith('INSTALLED_APPS = ["daphne", *INSTALLED_APPS,')
    assert "{% csrf_token %}" in quickstart[3].code
    # rst literal blocks (::) count as Python when they parse as Python.
    literal = docs.Block("x.rst", 1, "default", 'CHATTER_BASE_TEMPLATE = "a.html"\n')
    assert literal.is_python and not docs.Block("x.rst", 1, "default", "<p>{{ x }}</p>\n").is_python


@pytest.mark.parametrize("name", BASES)
def test_the_guides_pass_check(projects: dict[str, docs.Project], name: str) -> None:
    passes_check(projects[name])


@pytest.mark.parametrize("name", FRESH)
def test_the_fresh_project_groups_pass_check(tmp_path: Path, name: str) -> None:
    passes_check(docs.build(name, tmp_path))


@pytest.mark.parametrize("name", OTHERS)
def test_each_snippet_group_passes_check(
    projects: dict[str, docs.Project], tmp_path: Path, name: str
) -> None:
    base = projects[GROUPS[name][0].base or "quickstart"]
    passes_check(docs.build(name, tmp_path, command=only_file_commands, base=base))


# -- the checks' hints -------------------------------------------------------------------

HINT_SETTINGS = [*checks.SETTINGS_SNIPPETS, *checks_asgi.SETTINGS_SNIPPETS]


@pytest.mark.parametrize(
    "code", HINT_SETTINGS, ids=[c.split("=")[0].strip() for c in HINT_SETTINGS]
)
def test_the_hints_settings_pass_check(
    projects: dict[str, docs.Project], tmp_path: Path, code: str
) -> None:
    project = projects["quickstart"].copy(tmp_path)
    settings = project.root / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + "\n\n" + code + "\n")
    passes_check(project)


@pytest.mark.parametrize("code", checks_asgi.TENANT_SETTINGS_SNIPPETS)
def test_the_hints_tenant_settings_pass_check(
    projects: dict[str, docs.Project], tmp_path: Path, code: str
) -> None:
    project = projects["tenants"].copy(tmp_path)
    settings = project.root / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + "\n\n" + code + "\n")
    passes_check(project)


def _words(code: str) -> str:
    return re.sub(r"\s+", "", code).replace(",)", ")")


@pytest.mark.parametrize("code", checks_asgi.ASGI_SNIPPETS)
def test_the_hints_asgi_code_is_the_quickstart_s(code: str) -> None:
    [asgi] = [s for s in GROUPS["quickstart"] if s.path == "mysite/asgi.py"]
    assert _words(code) in _words(asgi.code)
