"""The distribution: ``python -m build`` makes an sdist and a wheel without a warning,
``twine check`` passes them, and the wheel installed into a fresh virtualenv (no network:
``--no-deps``, the dependencies come from this environment) has the templates, static
files, translations and migrations Django needs, and the ``py.typed`` marker."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from chatter import __version__
from tests.servers import ROOT

NAME = "django_chatter_live"
# Files a project needs from the package, relative to the site-packages folder.
PACKAGE_FILES = [
    "chatter/templates/chatter/room.html",
    "chatter/templates/chatter/_assets.html",
    "chatter/templates/chatter/frames/message.html",
    "chatter/static/chatter/chatter.css",
    "chatter/static/chatter/chatter.js",
    "chatter/static/chatter/attachments.js",
    "chatter/static/chatter/attachments.css",
    "chatter/templates/chatter/_attachments.html",
    "chatter/migrations/0001_initial.py",
    "chatter/locale/de/LC_MESSAGES/django.po",
    "chatter/locale/de/LC_MESSAGES/django.mo",
    "chatter/management/commands/chatter_send.py",
    "chatter/py.typed",
]

INSTALLED_CHECK = """
import sys
from pathlib import Path

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=[
        "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.staticfiles",
        "channels", "django_htmx", "chatter",
    ],
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True}],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    STATIC_URL="static/",
)
django.setup()

import chatter
from django.contrib.staticfiles import finders
from django.db.migrations.loader import MigrationLoader
from django.template.loader import get_template

venv = Path(sys.prefix).resolve()
assert Path(chatter.__file__).resolve().is_relative_to(venv), chatter.__file__
for name in ("chatter/room.html", "chatter/index.html", "chatter/frames/message.html"):
    assert Path(get_template(name).origin.name).resolve().is_relative_to(venv), name
for name in ("chatter/chatter.css", "chatter/chatter.js", "chatter/attachments.js"):
    found = finders.find(name)
    assert found and Path(found).resolve().is_relative_to(venv), (name, found)
assert finders.find("django_htmx/ext/hx-ws-2.min.js"), "django-htmx's ws extension"
migrations = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
assert ("chatter", "0001_initial") in migrations, sorted(migrations)
from django.utils import translation
with translation.override("de"):
    assert translation.gettext("Seen by") == "Gesehen von", "the German catalog"
print("installed", chatter.__version__)
"""


def run(*args: str | Path, cwd: Path | None = None) -> str:
    """Run a command (no bytecode switch: it makes setuptools warn); fail with its output."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")
    }
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel, built from this checkout as a release would be."""
    out = tmp_path_factory.mktemp("dist")
    output = run(sys.executable, "-m", "build", "--no-isolation", "-o", out, ROOT)
    assert "warning" not in output.lower(), output
    sdist = out / f"{NAME}-{__version__}.tar.gz"
    wheel = out / f"{NAME}-{__version__}-py3-none-any.whl"
    assert sdist.is_file() and wheel.is_file(), sorted(p.name for p in out.iterdir())
    return {"sdist": sdist, "wheel": wheel}


def test_twine_check_passes(dist: dict[str, Path]) -> None:
    output = run(sys.executable, "-m", "twine", "check", "--strict", dist["sdist"], dist["wheel"])
    assert output.count("PASSED") == 2, output


def test_the_wheel_holds_templates_static_files_and_migrations(dist: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    missing = [name for name in PACKAGE_FILES if name not in names]
    assert not missing, missing
    assert not any(name.startswith(("tests/", "example/", "bench/")) for name in names)
    metadata = (
        zipfile.ZipFile(dist["wheel"]).read(f"{NAME}-{__version__}.dist-info/METADATA").decode()
    )
    for line in (
        "Requires-Python: >=3.11",
        "Classifier: Framework :: Django :: 5.2",
        "Classifier: Framework :: Django :: 6.0",
        "Classifier: Programming Language :: Python :: 3.13",
        "Classifier: Typing :: Typed",
        "Provides-Extra: postgres",
        "Provides-Extra: redis",
        "Provides-Extra: tenants",
    ):
        assert line in metadata, line


def test_the_sdist_holds_the_package_docs_and_licence(dist: dict[str, Path]) -> None:
    prefix = f"{NAME}-{__version__}/"
    with tarfile.open(dist["sdist"]) as sdist:
        names = {name.removeprefix(prefix) for name in sdist.getnames()}
    for name in [*PACKAGE_FILES, "LICENSE", "CHANGELOG.rst", "README.md", "docs/quickstart.rst"]:
        assert name in names, name
    assert not any(name.startswith(("tests/", "docs/_build/")) for name in names)


def test_the_wheel_works_in_a_fresh_virtualenv(dist: dict[str, Path], tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    )
    # The dependencies: this environment's site-packages as a plain path. Its .pth files
    # (the editable install of this checkout among them) are not processed from there.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        dist["wheel"],
    )
    output = run(python, "-c", INSTALLED_CHECK, cwd=tmp_path)
    assert f"installed {__version__}" in output
