"""chatter.moderation: blocks, what they refuse, reports, and the staff's actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatter import messages, moderation, rooms, timeline
from chatter.models import Block, Membership, Message, Report, Room
from tests.factories import crowd, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    cache.clear()  # the per-user counters live in the cache without Redis


def room_of(*people: Any, name: str = "") -> Room:
    return Room.objects.get(pk=rooms.create_room(list(people), name=name))


def system_line(room: Room, actor: Any) -> Message:
    """A system line ("alice added carol") at the room's next number."""
    room.refresh_from_db()
    seq = room.last_seq + 1
    line = Message.objects.create(
        room=room, sender=actor, seq=seq, kind="system", data={"action": "renamed", "name": "x"}
    )
    Room.objects.filter(pk=room.pk).update(last_seq=seq)
    return line


def staff_with(username: str, *codenames: str) -> Any:
    """An active staff user with these permissions (``app.codename``)."""
    user = make_user(username, is_staff=True)
    for name in codenames:
        app, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    return type(user).objects.get(pk=user.pk)  # a fresh permission cache


# -- blocks --------------------------------------------------------------------------------


def test_block_is_one_way_idempotent_and_undone_by_unblock(alice: Any, bob: Any) -> None:
    assert moderation.block(alice, bob) is True
    assert moderation.block(alice, bob) is False  # once
    assert moderation.is_blocked(alice, bob) and not moderation.is_blocked(bob, alice)
    assert moderation.blocked_ids(alice) == [bob.pk]
    assert moderation.blocked_ids(bob) == []
    assert [b.blocked for b in moderation.blocks_of(alice)] == [bob]
    assert moderation.unblock(alice, bob) is True
    assert moderation.unblock(alice, bob) is False
    assert moderation.blocked_ids(alice) == []


def test_nobody_blocks_themself(alice: Any) -> None:
    with pytest.raises(moderation.ModerationRefused) as refused:
        moderation.block(alice, alice)
    assert refused.value.code == "invalid"
    assert not Block.objects.exists()


def test_blocking_is_rate_limited(alice: Any, settings: Any) -> None:
    settings.CHATTER_FRAME_LIMITS = {"block": (2, 60)}
    others = crowd("target", 3)
    moderation.block(alice, others[0])
    moderation.block(alice, others[1])
    with pytest.raises(moderation.ModerationRefused) as refused:
        moderation.block(alice, others[2])
    assert refused.value.code == "rate_limited"
    assert Block.objects.count() == 2


def test_blockers_among(alice: Any, bob: Any, carol: Any) -> None:
    moderation.block(carol, alice)
    assert moderation.blockers_among(alice, [bob, carol]) == [carol]
    assert moderation.blockers_among(bob, [alice, carol]) == []


# -- what a block refuses ------------------------------------------------------------------


def test_the_blocked_cannot_send_in_their_room_of_two(alice: Any, bob: Any) -> None:
    pair = room_of(alice, bob)
    messages.send_message(pair, bob, "before")
    moderation.block(alice, bob)
    with pytest.raises(messages.MessageRefused) as refused:
        messages.send_message(pair, bob, "after")
    assert refused.value.code == "blocked"
    assert str(refused.value) == "You cannot message this person."
    pair.refresh_from_db()
    assert pair.last_seq == 1  # nothing stored, no number taken
    assert [m.text for m in timeline.history(pair).messages] == ["before"]  # still readable
    # The blocker may still write.
    message, created = messages.send_message(pair, alice, "from the blocker")
    assert created and message.seq == 2


def test_the_blocked_still_writes_in_groups(alice: Any, bob: Any, carol: Any) -> None:
    group = room_of(alice, bob, carol, name="Team")
    moderation.block(alice, bob)
    _message, created = messages.send_message(group, bob, "in the group")
    assert created
    assert not moderation.refused_in(group, bob)


def test_a_block_by_someone_outside_the_room_changes_nothing(
    alice: Any, bob: Any, carol: Any
) -> None:
    pair = room_of(bob, carol)
    moderation.block(alice, bob)
    assert messages.send_message(pair, bob, "hi carol")[1]


def test_unblock_lets_them_write_again(alice: Any, bob: Any) -> None:
    pair = room_of(alice, bob)
    moderation.block(alice, bob)
    assert moderation.refused_in(pair, bob) and not moderation.refused_in(pair, alice)
    moderation.unblock(alice, bob)
    assert messages.send_message(pair, bob, "friends again")[1]


def test_a_non_member_is_still_told_so(alice: Any, bob: Any, carol: Any) -> None:
    pair = room_of(alice, bob)
    moderation.block(alice, carol)
    with pytest.raises(messages.MessageRefused) as refused:
        messages.send_message(pair, carol, "hi")
    assert refused.value.code == "not_member"


def test_the_blocked_cannot_edit_or_react_but_may_delete(alice: Any, bob: Any) -> None:
    pair = room_of(alice, bob)
    mine, _ = messages.send_message(pair, bob, "mine")
    hers, _ = messages.send_message(pair, alice, "hers")
    moderation.block(alice, bob)
    with pytest.raises(messages.MessageRefused) as refused:
        messages.edit_message(pair, bob, mine.seq, "changed")
    assert refused.value.code == "blocked"
    with pytest.raises(messages.MessageRefused) as refused:
        messages.toggle_reaction(pair, bob, hers.seq, "\N{THUMBS UP SIGN}")
    assert refused.value.code == "blocked"
    pair.refresh_from_db()
    assert pair.last_change == 0
    assert messages.delete_message(pair, bob, mine.seq)[1]


def _send_statements(room: Room, author: Any) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert messages.send_message(room, author, "counted")[1]
    verbs = [q["sql"].split()[0] for q in queries.captured_queries]
    return [v for v in verbs if v not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]


def test_a_send_costs_no_statement_more_in_any_room(alice: Any, bob: Any, carol: Any) -> None:
    """The block check rides in the sender's membership UPDATE: four statements, whether
    the room has two members or 200, whether anyone blocks anyone."""
    pair = room_of(alice, bob)
    people = crowd("member", 198)
    group = room_of(alice, bob, *people, name="Crowd")
    moderation.block(carol, alice)  # a block that does not concern these rooms
    expected = ["UPDATE", "UPDATE", "INSERT", "UPDATE"]
    assert _send_statements(pair, alice) == expected
    assert _send_statements(group, alice) == expected
    moderation.block(bob, alice)
    assert _send_statements(group, alice) == expected  # a group is not refused
    with CaptureQueriesContext(connection) as queries, pytest.raises(messages.MessageRefused):
        messages.send_message(pair, alice, "refused")
    # A refusal costs one SELECT more (blocked, or not a member?), rolled back.
    verbs = [q["sql"].split()[0] for q in queries.captured_queries]
    assert [v for v in verbs if v in ("UPDATE", "INSERT", "SELECT")] == [
        "UPDATE",
        "UPDATE",
        "SELECT",
    ]


def test_edit_and_react_take_no_query_more(alice: Any, bob: Any) -> None:
    pair = room_of(alice, bob)
    hers, _ = messages.send_message(pair, alice, "hers")
    with CaptureQueriesContext(connection) as edit:
        messages.edit_message(pair, alice, hers.seq, "hers, edited")
    with CaptureQueriesContext(connection) as react:
        messages.toggle_reaction(pair, bob, hers.seq, "\N{THUMBS UP SIGN}")

    # The same numbers as before blocks existed: the member check became the writer check.
    assert _counted(edit) == 7
    assert _counted(react) == 9


def _counted(ctx: CaptureQueriesContext) -> int:
    """Statements, savepoints left out (SQLite's capture lists them, PostgreSQL's not)."""
    return len([q for q in ctx.captured_queries if q["sql"].split()[0] not in SAVEPOINTS])


SAVEPOINTS = ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT")


# -- reports -------------------------------------------------------------------------------


@pytest.fixture
def chat(alice: Any, bob: Any, carol: Any) -> dict[str, Any]:
    group = room_of(alice, bob, carol, name="Team")
    first, _ = messages.send_message(group, alice, "first")
    rude, _ = messages.send_message(group, alice, "something rude")
    own, _ = messages.send_message(group, bob, "bob's own")
    return {"group": group, "first": first, "rude": rude, "own": own}


def test_a_member_reports_someone_elses_message(chat: dict[str, Any], alice: Any, bob: Any) -> None:
    report = moderation.report_message(chat["group"], bob, chat["rude"].seq, "abuse", " mean ")
    assert report.author == alice and report.reporter == bob
    assert (report.seq, report.text, report.reason, report.details) == (
        chat["rude"].seq,
        "something rude",
        "abuse",
        "mean",
    )
    assert report.resolved_at is None
    # The copy stays when the message changes.
    messages.edit_message(chat["group"], alice, chat["rude"].seq, "something nice")
    report.refresh_from_db()
    assert report.text == "something rude"


@pytest.mark.parametrize(
    ("who", "which", "reason", "details", "code"),
    [
        ("bob", "own", "spam", "", "forbidden"),  # one's own message
        ("bob", 99, "spam", "", "not_found"),  # no such message
        ("bob", 0, "spam", "", "not_found"),
        ("bob", "rude", "nonsense", "", "invalid"),  # not a reason
        ("bob", "rude", None, "", "invalid"),
        ("bob", "rude", "other", "x" * 1001, "invalid"),  # details too long
        ("dave", "rude", "spam", "", "not_member"),
    ],
)
def test_refused_reports_store_nothing(
    chat: dict[str, Any],
    bob: Any,
    user_factory: Any,
    who: str,
    which: Any,
    reason: Any,
    details: str,
    code: str,
) -> None:
    reporter = bob if who == "bob" else user_factory(who)
    seq = chat[which].seq if isinstance(which, str) else which
    with pytest.raises(moderation.ModerationRefused) as refused:
        moderation.report_message(chat["group"], reporter, seq, reason, details)
    assert refused.value.code == code
    assert not Report.objects.exists()


def test_system_lines_and_deleted_messages_cannot_be_reported(
    chat: dict[str, Any], alice: Any, bob: Any
) -> None:
    line = system_line(chat["group"], alice)
    messages.delete_message(chat["group"], alice, chat["first"].seq)
    for seq, code in [(line.seq, "forbidden"), (chat["first"].seq, "deleted")]:
        with pytest.raises(moderation.ModerationRefused) as refused:
            moderation.report_message(chat["group"], bob, seq, "spam")
        assert refused.value.code == code
    assert not Report.objects.exists()


def test_one_report_per_message_and_member(chat: dict[str, Any], bob: Any, carol: Any) -> None:
    moderation.report_message(chat["group"], bob, chat["rude"].seq, "spam")
    with pytest.raises(moderation.ModerationRefused) as refused:
        moderation.report_message(chat["group"], bob, chat["rude"].seq, "abuse")
    assert refused.value.code == "already_reported"
    moderation.report_message(chat["group"], carol, chat["rude"].seq, "abuse")  # another member
    assert Report.objects.count() == 2


def test_reports_are_rate_limited(chat: dict[str, Any], bob: Any, settings: Any) -> None:
    settings.CHATTER_FRAME_LIMITS = {"report": (1, 60)}
    moderation.report_message(chat["group"], bob, chat["rude"].seq, "spam")
    with pytest.raises(moderation.ModerationRefused) as refused:
        moderation.report_message(chat["group"], bob, chat["first"].seq, "spam")
    assert refused.value.code == "rate_limited"
    assert Report.objects.count() == 1


def test_the_context_is_three_messages_each_side(alice: Any, bob: Any) -> None:
    pair = room_of(alice, bob)
    for n in range(1, 11):
        messages.send_message(pair, alice, f"m{n}")
    report = moderation.report_message(pair, bob, 5, "spam")
    assert [m.seq for m in moderation.context_of(report)] == [2, 3, 4, 5, 6, 7, 8]
    edge = moderation.report_message(pair, bob, 10, "spam")
    assert [m.seq for m in moderation.context_of(edge)] == [7, 8, 9, 10]


def test_queries_per_block_and_report(chat: dict[str, Any], alice: Any, bob: Any) -> None:
    with CaptureQueriesContext(connection) as blocking:
        moderation.block(bob, alice)
    with CaptureQueriesContext(connection) as unblocking:
        moderation.unblock(bob, alice)
    with CaptureQueriesContext(connection) as reporting:
        moderation.report_message(chat["group"], bob, chat["rude"].seq, "spam")
    assert _counted(blocking) == 2  # is it there already, INSERT
    assert _counted(unblocking) == 1  # DELETE
    assert _counted(reporting) == 4  # the message, the membership, reported already, INSERT


# -- the staff's actions -------------------------------------------------------------------


@pytest.fixture
def reported(chat: dict[str, Any], bob: Any, carol: Any) -> dict[str, Any]:
    chat["report"] = moderation.report_message(chat["group"], bob, chat["rude"].seq, "abuse")
    chat["second"] = moderation.report_message(chat["group"], carol, chat["rude"].seq, "spam")
    return chat


def test_delete_reported_deletes_and_resolves_every_report_of_it(
    reported: dict[str, Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    moderator = staff_with("mod", "chatter.delete_message")
    with django_capture_on_commit_callbacks() as announced:
        deleted = moderation.delete_reported(reported["report"], moderator)
    assert deleted is not None and deleted.is_deleted
    assert len(announced) == 1  # the change, live, to the room's pages
    assert Message.objects.get(pk=reported["rude"].pk).text == ""
    assert set(Report.objects.values_list("resolved_by", flat=True)) == {moderator.pk}
    # Again: nothing to delete, nothing to announce.
    assert moderation.delete_reported(reported["report"], moderator) is None


def test_remove_author_takes_them_out_of_the_group(reported: dict[str, Any], alice: Any) -> None:
    moderator = staff_with("mod", "chatter.delete_membership")
    assert moderation.remove_author(reported["report"], moderator) is True
    assert not Membership.objects.filter(room=reported["group"], user=alice).exists()
    with pytest.raises(messages.MessageRefused) as refused:
        messages.send_message(reported["group"], alice, "still here?")
    assert refused.value.code == "not_member"
    assert Report.objects.filter(resolved_at__isnull=True).count() == 0


def test_remove_author_is_refused_in_a_room_of_two(alice: Any, bob: Any) -> None:
    pair = room_of(alice, bob)
    messages.send_message(pair, alice, "rude")
    report = moderation.report_message(pair, bob, 1, "abuse")
    moderator = staff_with("mod", "chatter.delete_membership")
    with pytest.raises(moderation.ModerationRefused):
        moderation.remove_author(report, moderator)
    assert Membership.objects.filter(room=pair).count() == 2
    report.refresh_from_db()
    assert report.resolved_at is None


def test_deactivate_author(
    reported: dict[str, Any], alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    moderator = staff_with("mod", "auth.change_user")
    with django_capture_on_commit_callbacks() as announced:
        assert moderation.deactivate_author(reported["report"], moderator) is True
    alice.refresh_from_db()
    assert not alice.is_active
    assert len(announced) == 1  # her open sockets are closed
    assert moderation.deactivate_author(reported["report"], moderator) is False


def test_resolve(reported: dict[str, Any]) -> None:
    moderator = staff_with("mod", "chatter.change_report")
    assert moderation.resolve(reported["report"], moderator) is True
    assert moderation.resolve(reported["report"], moderator) is False
    reported["second"].refresh_from_db()
    assert reported["second"].resolved_at is None  # only the one marked


@pytest.mark.parametrize(
    "action",
    [
        moderation.delete_reported,
        moderation.remove_author,
        moderation.deactivate_author,
        moderation.resolve,
    ],
)
def test_each_action_needs_its_permission(
    reported: dict[str, Any], alice: Any, action: Any
) -> None:
    # Staff with every other permission of the queue, but not this action's.
    names = {
        moderation.delete_reported: "chatter.delete_message",
        moderation.remove_author: "chatter.delete_membership",
        moderation.deactivate_author: "auth.change_user",
        moderation.resolve: "chatter.change_report",
    }
    others = [n for a, n in names.items() if a is not action]
    moderator = staff_with("mod", "chatter.view_report", *others)
    before = (
        list(Message.objects.values_list("text", flat=True)),
        Membership.objects.count(),
        type(alice).objects.filter(is_active=True).count(),
    )
    with pytest.raises(moderation.ModerationRefused) as refused:
        action(reported["report"], moderator)
    assert refused.value.code == "forbidden"
    after = (
        list(Message.objects.values_list("text", flat=True)),
        Membership.objects.count(),
        type(alice).objects.filter(is_active=True).count(),
    )
    assert after == before
    assert not Report.objects.filter(resolved_at__isnull=False).exists()


def test_queries_per_staff_action(reported: dict[str, Any]) -> None:
    """Constant work per report (the numbers the changelog gives)."""
    moderator = staff_with(
        "mod",
        "chatter.delete_message",
        "chatter.delete_membership",
        "auth.change_user",
        "chatter.change_report",
    )
    moderator.has_perm("chatter.change_report")  # its permissions, read once per request
    counts = {}
    for action in (
        moderation.resolve,
        moderation.deactivate_author,
        moderation.remove_author,
        moderation.delete_reported,
    ):
        with CaptureQueriesContext(connection) as ctx:
            action(reported["report"], moderator)
        counts[action.__name__] = _counted(ctx)
    assert counts == {
        "resolve": 1,  # the UPDATE
        "deactivate_author": 2,  # the user's UPDATE, the reports' UPDATE
        # the author, the group change (lock, members, count, limit, the line, the DELETE,
        # the new key: chatter.groups) and the reports' UPDATE
        "remove_author": 13,
        # The room, messages.delete_message (9 with the message reloaded for its frame),
        # the reports' UPDATE.
        "delete_reported": 11,
    }


# -- chatter_reports -----------------------------------------------------------------------


def _command(*args: str) -> str:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("chatter_reports", *args, stdout=out)
    return out.getvalue()


def test_chatter_reports_lists_open_reports(
    reported: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    moderation.resolve(reported["second"], staff_with("mod", "chatter.change_report"))
    with django_assert_max_num_queries(2):
        lines = _command().splitlines()
    assert lines[0].split("\t") == [
        "id",
        "reported",
        "room",
        "number",
        "author",
        "reporter",
        "reason",
        "status",
        "text",
    ]
    assert len(lines) == 2
    cells = lines[1].split("\t")
    assert cells[2:] == [
        str(reported["group"].pk),
        "2",
        "alice",
        "bob",
        "abuse",
        "open",
        "something rude",
    ]
    assert len(_command("--all").splitlines()) == 3


def test_chatter_reports_when_there_are_none(alice: Any) -> None:
    assert _command() == "No open reports.\n"
    assert _command("--all") == "No reports.\n"


def test_remove_author_is_a_group_change_like_any_other(
    reported: dict[str, Any], alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A system line in the room, announced (her pages close, the room leaves her list)."""
    from chatter.templatetags.chatter import chatter_system_line

    moderator = staff_with("mod", "chatter.delete_membership")
    with django_capture_on_commit_callbacks() as announced:
        assert moderation.remove_author(reported["report"], moderator) is True
    line = Message.objects.filter(room=reported["group"], kind="system").get()
    assert chatter_system_line(line) == f"mod removed {alice.get_full_name()}"
    assert len(announced) == 1
    assert moderation.remove_author(reported["report"], moderator) is False
