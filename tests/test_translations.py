"""Translations: the catalog holds every user-facing string, German is complete, and the
pages, forms and socket frames speak the language that is active.

The catalog test runs ``makemessages`` on a copy of the package (so a string marked for
translation but missing from ``chatter/locale/de/LC_MESSAGES/django.po`` fails it) and
``msgfmt --check`` on the committed file (so a translation that drops or renames a
``%(name)s`` placeholder fails it too).
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

import chatter
from chatter import frames, messages, rooms
from chatter.forms import GroupRoomForm
from chatter.models import Room

PACKAGE = Path(chatter.__file__).resolve().parent
LOCALE = PACKAGE / "locale"
PO = LOCALE / "de" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

# -- a small reader of .po files ----------------------------------------------------------

Key = tuple[str | None, str]  # (msgctxt, msgid)


class Entry:
    """One entry of a .po file: its context, ids, translations and flags."""

    def __init__(self) -> None:
        self.msgctxt: str | None = None
        self.msgid = ""
        self.msgid_plural: str | None = None
        self.msgstr: dict[int, str] = {}
        self.flags: set[str] = set()
        self.obsolete = False

    @property
    def key(self) -> Key:
        return (self.msgctxt, self.msgid)


_FIELD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$")


def read_po(path: Path) -> tuple[dict[str, str], list[Entry]]:
    """The header (as a dict) and the entries of a .po file."""
    entries: list[Entry] = []
    entry = Entry()
    field: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal entry, field
        if field is not None:
            entries.append(entry)
        entry, field = Entry(), None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            line = line[2:].strip()
            if not line:
                continue
        elif line.startswith("#,"):
            entry.flags.update(f.strip() for f in line[2:].split(","))
            continue
        elif line.startswith("#"):
            continue
        if line.startswith('"'):
            assert field is not None, f"{path}: a continuation line outside an entry: {raw!r}"
            _append(entry, field, ast.literal_eval(line))
            continue
        match = _FIELD.match(line)
        assert match, f"{path}: cannot read {raw!r}"
        name, index, value = match[1], match[2], ast.literal_eval(match[3])
        if field is not None and name in ("msgctxt", "msgid") and field[0].startswith("msgstr"):
            finish()  # entries without a blank line between them
        field = ("msgstr", int(index)) if index is not None else (name, 0)
        if name == "msgstr":
            field = ("msgstr", 0)
        _append(entry, field, value)
    finish()
    header_entries = [e for e in entries if e.msgid == "" and e.msgctxt is None]
    header: dict[str, str] = {}
    for line in (header_entries[0].msgstr.get(0, "") if header_entries else "").splitlines():
        name, _, value = line.partition(":")
        header[name.strip()] = value.strip()
    return header, [e for e in entries if e not in header_entries]


def _append(entry: Entry, field: tuple[str, int], text: str) -> None:
    name, index = field
    if name == "msgctxt":
        entry.msgctxt = (entry.msgctxt or "") + text
    elif name == "msgid":
        entry.msgid += text
    elif name == "msgid_plural":
        entry.msgid_plural = (entry.msgid_plural or "") + text
    else:
        entry.msgstr[index] = entry.msgstr.get(index, "") + text


def test_read_po_reads_contexts_plurals_flags_and_continuations(tmp_path: Path) -> None:
    """The reader the catalog test relies on."""
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: de\\n"\n"Plural-Forms: nplurals=2;\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgctxt "verb"\nmsgid "Message"\nmsgstr "Schreiben"\n'
        '\nmsgid ""\n"A long "\n"one"\nmsgid_plural "many"\nmsgstr[0] "eins"\nmsgstr[1] ""\n'
        '\n#~ msgid "gone"\n#~ msgstr "weg"\n',
        encoding="utf-8",
    )
    header, entries = read_po(po)
    assert header == {"Language": "de", "Plural-Forms": "nplurals=2;"}
    verb, plural, gone = entries
    assert (verb.key, verb.msgstr, verb.flags) == (
        ("verb", "Message"),
        {0: "Schreiben"},
        {"fuzzy", "python-format"},
    )
    assert (plural.msgid, plural.msgid_plural, plural.msgstr) == (
        "A long one",
        "many",
        {0: "eins", 1: ""},
    )
    assert gone.obsolete and gone.msgstr == {0: "weg"}


# -- the catalog --------------------------------------------------------------------------


def _extract(tmp_path: Path, domain: str, monkeypatch: pytest.MonkeyPatch) -> list[Entry]:
    """What makemessages finds in a copy of the package today (no translations in it)."""
    copy = tmp_path / "chatter"
    if not copy.exists():
        shutil.copytree(
            PACKAGE, copy, ignore=shutil.ignore_patterns("locale", "__pycache__", "*.pyc")
        )
        (copy / "locale").mkdir()
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["de"], domain=domain, verbosity=0, no_obsolete=True)
    po = copy / "locale" / "de" / "LC_MESSAGES" / f"{domain}.po"
    return read_po(po)[1] if po.exists() else []


def test_the_german_catalog_has_every_string_translated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every string makemessages finds is in django.po, translated (every plural form), not
    fuzzy; the catalog keeps nothing the code no longer has."""
    header, committed = read_po(PO)
    assert header.get("Language") == "de"
    assert header.get("Plural-Forms") == "nplurals=2; plural=(n != 1);"
    found = _extract(tmp_path, "django", monkeypatch)
    assert len(found) > 100, "makemessages found almost nothing: is the copy complete?"
    by_key = {e.key: e for e in committed if not e.obsolete}

    missing = [e.key for e in found if e.key not in by_key]
    assert not missing, f"marked for translation but not in {PO.name}: {missing}"
    stale = sorted(set(by_key) - {e.key for e in found}, key=str)
    assert not stale, f"in {PO.name} but no longer in the code (run makemessages): {stale}"
    assert not [e.key for e in committed if e.obsolete], "obsolete (#~) entries are left"
    fuzzy = [e.key for e in committed if "fuzzy" in e.flags]
    assert not fuzzy, f"fuzzy translations: {fuzzy}"
    for entry in found:
        mine = by_key[entry.key]
        assert mine.msgid_plural == entry.msgid_plural, entry.key
        forms = 2 if entry.msgid_plural is not None else 1
        assert set(mine.msgstr) == set(range(forms)), entry.key
        untranslated = [i for i, text in mine.msgstr.items() if not text.strip()]
        assert not untranslated, f"untranslated: {entry.key}"


def test_chatter_js_has_no_strings_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """chatter.js takes its words from the templates' data-* attributes: no JS catalog."""
    assert _extract(tmp_path, "djangojs", monkeypatch) == []


def test_the_compiled_catalog_is_valid_and_matches_the_po_file(tmp_path: Path) -> None:
    """msgfmt accepts django.po with its format checks (placeholders kept), and the
    committed django.mo says what django.po says."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("msgfmt (GNU gettext) is not installed")
    done = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", str(tmp_path / "check.mo"), str(PO)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "untranslated" not in done.stderr and "fuzzy" not in done.stderr, done.stderr
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in read_po(PO)[1]:
        if entry.obsolete:
            continue
        if entry.msgid_plural is None:
            text = (
                compiled.pgettext(entry.msgctxt, entry.msgid)
                if entry.msgctxt
                else compiled.gettext(entry.msgid)
            )
            assert text == entry.msgstr[0], f"{MO.name} is older than {PO.name}: {entry.key}"
        else:
            for count, form in ((1, 0), (2, 1)):
                text = compiled.ngettext(entry.msgid, entry.msgid_plural, count)
                assert text == entry.msgstr[form], f"{MO.name} is older: {entry.key}"


# -- the pages in German ------------------------------------------------------------------

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}


def _german(client: Client, url: str) -> str:
    response = client.get(url, **GERMAN)
    assert response.status_code == 200
    assert response["Content-Language"] == "de"
    return response.content.decode()


@pytest.mark.django_db
def test_room_page_renders_in_german(alice_client: Client, alice: Any, bob: Any) -> None:
    """LocaleMiddleware picks German from Accept-Language; the room page speaks it."""
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    messages.send_message(room, bob, "Hallo Alice")
    messages.send_message(room, alice, "Hallo Bob")
    rooms.mark_read(room, bob)
    html = _german(alice_client, reverse("chatter:chatroom", args=[room.id]))
    assert '<html lang="de">' in html
    for german in (
        "Nachricht schreiben…",  # the composer's placeholder
        ">Senden</button>",
        ">Nachricht</label>",
        "Gesehen von",
        "Heute",  # the day separator
        'data-text-connected="Verbunden"',
        'data-text-reconnecting="Verbindung wird wiederhergestellt…"',
        "Zur Unterhaltung springen",  # the skip link
        'aria-label="Nachrichten"',  # the message log
        "Mitglieder:",
        "Neue Gruppe",
        "Personen finden",
        "Du:",  # the room list's prefix of one's own last message
    ):
        assert german in html, german
    for english in ("Write a message", ">Send<", "Seen by", "Connected", "Find people"):
        assert english not in html, english


@pytest.mark.django_db
def test_room_list_renders_in_german(alice_client: Client, alice: Any, bob: Any) -> None:
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    for text in ("eins", "zwei", "drei"):
        messages.send_message(room, bob, text)
    html = _german(alice_client, reverse("chatter:index"))
    for german in (
        "Wähle eine Unterhaltung",
        "Unterhaltungen",
        "Gruppe erstellen",
        "Gruppenname",
        "Benutzernamen, getrennt durch Kommas oder Leerzeichen.",
        " ungelesene Nachrichten</span>",  # the badge of 3, for screen readers
        'data-unread-one="ungelesene Nachricht"',
        'data-unread-other="ungelesene Nachrichten"',
    ):
        assert german in html, german
    assert "unread message" not in html


@pytest.mark.django_db
def test_forms_and_refusals_speak_german(alice: Any, bob: Any) -> None:
    """Form errors (with plurals) and the refusals shown under the composer."""
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    with translation.override("de"):
        form = GroupRoomForm({"usernames": "nobody"}, user=alice)
        assert not form.is_valid()
        assert form.errors["usernames"] == ["Unbekannter Benutzername: nobody."]
        with pytest.raises(messages.MessageRefused) as refused:
            messages.send_message(room, alice, "   ")
        assert str(refused.value) == "Schreib zuerst etwas."


# -- frames -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_shared_frames_have_no_words_and_a_sockets_own_answers_speak_its_language(
    alice: Any, bob: Any, carol: Any, client: Any
) -> None:
    """Frames for the whole room carry no words (each page fills in its own); the frames a
    socket sends only to itself are rendered in its language."""
    room = Room.objects.get(pk=rooms.create_room([alice, bob]))
    with pytest.raises(messages.MessageRefused) as refused:
        messages.send_message(room, carol, "let me in")
    with translation.override("de"):
        for shared in (frames.typing(alice), frames.seen(1, [bob]), frames.presence([(bob, True)])):
            assert "data-say=" in shared
            assert not {"schreibt", "Gesehen", "aktiv", "typing", "Seen", "active"} & set(
                re.findall(r"[A-Za-zä]+", re.sub(r'"[^"]*"', "", shared))
            ), shared
        stale = frames.too_far_behind()
        assert "Während du weg warst" in stale and ">Neu laden</a>" in stale
        # A refusal's message is lazy: it speaks the language active where it is shown.
        error = frames.composer_error(str(refused.value), "c1")
        assert "Du bist kein Mitglied dieses Chats." in error
    with translation.override("en"):
        assert "You are not a member of this room." in frames.composer_error(str(refused.value))
    # The words come from the page, in the reader's language.
    client.force_login(alice)
    page = client.get(f"/chat/{room.pk}/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert 'data-seen-by="Gesehen von"' in page
    assert 'data-typing="{name} schreibt…"' in page
    assert 'data-active-now=" (gerade aktiv)"' in page
