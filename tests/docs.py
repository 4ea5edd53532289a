"""The documentation's code as the tests run it: marked code blocks of README.md and docs/.

A code block that the tests run is preceded by a marker, a comment the reader never sees::

    .. snippet: GROUP[ on BASE]: ACTION[ PATH]          (reStructuredText)
    <!-- snippet: GROUP[ on BASE]: ACTION[ PATH] -->    (Markdown)

The blocks of one GROUP are applied in the order of the page. A group without a BASE
starts from a project made by ``django-admin startproject mysite``; ``on BASE`` starts from
the project that group BASE made. ACTION is one of

* ``append PATH``: add the block to the end of the project's file (settings, URLs);
* ``create PATH``: a new file; ``replace PATH``: an existing file's new content;
* ``shell``: Python run with ``python manage.py shell``;
* ``run``: a console block of commands (``$ python manage.py ...``), each line run as the
  reader would (see :func:`run_commands`).

Every Python block in the docs carries a marker (tests/test_snippets.py checks it), so
every one of them runs somewhere.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import ROOT

SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.rst"))]
ACTIONS = {"append", "create", "replace", "shell", "run"}
MARKER = re.compile(
    r"^(?P<group>[a-z][a-z0-9-]*)(?: on (?P<base>[a-z][a-z0-9-]*))?: "
    r"(?P<action>[a-z]+)(?: (?P<path>\S+))?$"
)
_RST_MARKER = re.compile(r"^(\s*)\.\. snippet: (.*)$")
_RST_BLOCK = re.compile(r"^(\s*)\.\. code-block:: *(\S+)\s*$")
_MD_MARKER = re.compile(r"^<!-- snippet: (.*) -->$")
_MD_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    """One code block of a page, with its marker if it has one."""

    source: str  # e.g. "docs/quickstart.rst"
    line: int  # 1-based line of the block's first line of code
    language: str
    code: str
    marker: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def is_python(self) -> bool:
        if self.language in ("python", "python3", "py"):
            return True
        if self.language != "default":  # an rst literal block (::) is Sphinx's default
            return False
        try:
            ast.parse(self.code)
        except SyntaxError:
            return False
        return True


@dataclass(frozen=True)
class Snippet:
    """A marked block: what to do with it, in which project."""

    block: Block
    group: str
    base: str | None
    action: str
    path: str | None

    @property
    def code(self) -> str:
        return self.block.code


def blocks(path: Path) -> list[Block]:
    """Every code block of a page (reStructuredText or Markdown), in order."""
    source = str(path.relative_to(ROOT))
    lines = path.read_text().splitlines()
    if path.suffix == ".md":
        return _markdown_blocks(source, lines)
    return _rst_blocks(source, lines)


def _markdown_blocks(source: str, lines: list[str]) -> list[Block]:
    found: list[Block] = []
    marker: str | None = None
    i = 0
    while i < len(lines):
        if m := _MD_MARKER.match(lines[i]):
            marker = m.group(1)
        elif m := _MD_FENCE.match(lines[i]):
            end = lines.index("```", i + 1)
            code = "\n".join(lines[i + 1 : end]) + "\n"
            found.append(Block(source, i + 2, m.group(1) or "text", code, marker))
            marker = None
            i = end
        elif lines[i].strip():
            marker = None
        i += 1
    return found


def _rst_blocks(source: str, lines: list[str]) -> list[Block]:
    found: list[Block] = []
    marker: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := _RST_MARKER.match(line):
            marker = m.group(2).strip()
            i += 1
            continue
        language = None
        indent = len(line) - len(line.lstrip())
        if m := _RST_BLOCK.match(line):
            language = m.group(2)
        elif line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
            language = "default"
        if language is None:
            if line.strip() and not line.lstrip().startswith(".."):
                marker = None
            i += 1
            continue
        start, end = _indented_body(lines, i + 1, indent)
        code = textwrap.dedent("\n".join(lines[start:end])).strip("\n") + "\n"
        if end > start:
            found.append(Block(source, start + 1, language, code, marker))
        marker = None
        i = end
    return found


def _indented_body(lines: list[str], i: int, indent: int) -> tuple[int, int]:
    """The lines of a directive's body: after its options, indented deeper than ``indent``."""
    while (
        i < len(lines)
        and (not lines[i].strip() or lines[i].lstrip().startswith(":"))
        and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent)
    ):
        i += 1
    start = i
    while i < len(lines) and (
        not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
    ):
        i += 1
    while i > start and not lines[i - 1].strip():
        i -= 1
    return start, i


def all_blocks() -> list[Block]:
    return [block for path in SOURCES for block in blocks(path)]


def snippets() -> list[Snippet]:
    """Every marked block of every page; a malformed marker is an error."""
    found = []
    for block in all_blocks():
        if block.marker is None:
            continue
        m = MARKER.match(block.marker)
        if not m or m.group("action") not in ACTIONS:
            raise ValueError(f"{block.where}: malformed snippet marker {block.marker!r}")
        action, path = m.group("action"), m.group("path")
        if (path is None) != (action in ("shell", "run")):
            raise ValueError(
                f"{block.where}: {action!r} {'needs no' if path is None else 'needs a'} path"
            )
        found.append(Snippet(block, m.group("group"), m.group("base"), action, path))
    return found


def groups() -> dict[str, list[Snippet]]:
    """The snippets of each group, in page order; one group lives on one page."""
    by_group: dict[str, list[Snippet]] = {}
    for snippet in snippets():
        by_group.setdefault(snippet.group, []).append(snippet)
    for name, members in by_group.items():
        sources = {s.block.source for s in members}
        bases = {s.base for s in members}
        if len(sources) != 1 or len(bases) != 1:
            raise ValueError(f"group {name!r} spans {sorted(sources)} with bases {bases}")
    return by_group


# -- projects ----------------------------------------------------------------------------

CHECK_SCRIPT = """
import importlib, os, sys
sys.path.insert(0, os.getcwd())
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
import django
django.setup()
for name in sys.argv[1:]:
    importlib.import_module(name)
from django.core.management import call_command
call_command("check", fail_level="WARNING")
"""


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a reader's shell: nothing of this test run's Django settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHATTER_", "DJANGO_")) and k not in ("PYTHONPATH",)
    }
    env.update(extra)
    return env


@dataclass
class Project:
    """A Django project on disk (the folder of ``manage.py``) built from the docs."""

    root: Path
    env: dict[str, str] = field(default_factory=clean_env)
    modules: list[str] = field(default_factory=list)  # Python files the docs created

    @classmethod
    def start(cls, folder: Path) -> Project:
        """``django-admin startproject mysite`` in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        run([sys.executable, "-m", "django", "startproject", "mysite"], folder, clean_env())
        return cls(folder / "mysite")

    def copy(self, folder: Path) -> Project:
        shutil.copytree(self.root, folder / "mysite", ignore=shutil.ignore_patterns("__pycache__"))
        return Project(folder / "mysite", dict(self.env), list(self.modules))

    def manage(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
        return run(
            [sys.executable, "manage.py", *args], self.root, {**self.env, **(env or {})}, timeout
        )

    def check(self) -> str:
        """``manage.py check`` with every module the docs created imported; no issue at all."""
        return run([sys.executable, "-c", CHECK_SCRIPT, *self.modules], self.root, self.env)

    def apply(
        self,
        snippet: Snippet,
        replace: dict[str, str] | None = None,
        command: Callable[[Project, list[str]], None] | None = None,
        run_shell: bool = False,
    ) -> None:
        """Do what the snippet says; ``replace`` swaps literal text of its code first.

        Console commands go to ``command`` (none are run without it); ``shell`` snippets
        run only with ``run_shell=True`` (they need the database), else they are compiled.
        """
        code = snippet.code
        for old, new in (replace or {}).items():
            code = code.replace(old, new)
        if snippet.action == "run":
            for args in commands(code):
                if command is not None:
                    command(self, args)
            return
        if snippet.action == "shell":
            compile(code, snippet.block.where, "exec")
            if run_shell:
                self.manage("shell", "-c", code)
            return
        assert snippet.path is not None
        target = self.root / snippet.path
        exists = target.exists()
        if (snippet.action == "create" and exists) or (snippet.action != "create" and not exists):
            raise AssertionError(
                f"{snippet.block.where}: {snippet.action} {snippet.path}: {exists=}"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        if snippet.action == "append":
            target.write_text(target.read_text().rstrip("\n") + "\n\n\n" + code)
        else:
            target.write_text(code)
        if target.suffix == ".py" and snippet.action == "create":
            module = ".".join(Path(snippet.path).with_suffix("").parts)
            self.modules.append(module)


def commands(console: str) -> Iterator[list[str]]:
    """The commands of a console block: its ``$ `` lines, split as a shell would."""
    for line in console.splitlines():
        if line.startswith("$ "):
            yield shlex.split(line[2:])


def build(
    group: str,
    folder: Path,
    replace: dict[str, str] | None = None,
    command: Callable[[Project, list[str]], None] | None = None,
    base: Project | None = None,
    run_shell: bool = False,
) -> Project:
    """The project of ``group`` (on a copy of ``base``, or on a fresh one): every step."""
    members = groups()[group]
    if base is None:
        if members[0].base is not None:
            raise ValueError(f"group {group!r} is on {members[0].base!r}: build that first")
        project = Project.start(folder)
    else:
        project = base.copy(folder)
    for snippet in members:
        project.apply(snippet, replace, command, run_shell)
    return project


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    if done.returncode:
        raise AssertionError(f"{' '.join(args)} (in {cwd}) failed:\n{output}")
    return output
