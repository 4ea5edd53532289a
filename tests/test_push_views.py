"""The Web Push pages (chatter.push_views): the service worker, subscribing and
unsubscribing with the JSON a browser posts, and every malformed request answered 4xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chatter import push
from chatter.models import PushSubscription
from tests.push_endpoint import PushEndpoint, b64
from tests.test_push import push_settings

pytestmark = pytest.mark.django_db

SUBSCRIBE = reverse("chatter:push_subscribe")
UNSUBSCRIBE = reverse("chatter:push_unsubscribe")
#: What Chrome posts: ``JSON.stringify(subscription)`` (an FCM endpoint and its keys).
CHROME = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/dcGkKR9yWTE:APA91bF2t1k-K7t0aXf3Qg"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    "expirationTime": None,
    "keys": {
        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1Xbjha"
        "zAkj7I99e8QcYP7DkM",
        "auth": "tBHItJI5svbpez7KI4CCXg",
    },
}


@pytest.fixture
def push_on(settings: Any) -> None:
    settings.CHATTER_PUSH = push_settings()


def post(client: Client, url: str, body: Any) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(url, data, content_type="application/json", HTTP_USER_AGENT=UA)


UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


# -- the service worker -------------------------------------------------------------------


def test_the_service_worker_is_javascript_in_the_chats_scope(client: Client) -> None:
    url = reverse("chatter:service_worker")
    assert url == reverse("chatter:index") + "sw.js"
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert "Service-Worker-Allowed" not in response
    source = response.content.decode()
    assert 'addEventListener("push"' in source
    assert 'addEventListener("notificationclick"' in source
    for forbidden in ("eval(", "new Function", "importScripts", "innerHTML"):
        assert forbidden not in source
    again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert client.post(url).status_code == 405


def test_push_js_asks_permission_on_click_only() -> None:
    from pathlib import Path

    source = (Path(push.__file__).parent / "static" / "chatter" / "push.js").read_text()
    assert "userVisibleOnly: true" in source
    assert "X-CSRFToken" in source
    before_click = source.split('addEventListener("click"')[0]
    assert before_click.count("requestPermission") == 1  # defined in enable(), called on click
    assert "eval(" not in source and "new Function" not in source


# -- subscribing --------------------------------------------------------------------------


def test_subscribe_with_what_chrome_posts(push_on: None, alice_client: Client, alice: Any) -> None:
    response = post(alice_client, SUBSCRIBE, CHROME)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "subscribed": True}
    row = PushSubscription.objects.get()
    assert (row.user, row.endpoint, row.p256dh, row.auth) == (
        alice,
        CHROME["endpoint"],
        CHROME["keys"]["p256dh"],
        CHROME["keys"]["auth"],
    )
    assert row.user_agent == "Chrome (Linux)"
    # Again: the same row.
    assert post(alice_client, SUBSCRIBE, CHROME).status_code == 200
    assert PushSubscription.objects.count() == 1


def test_a_browser_that_changes_user_moves_its_subscription(
    push_on: None, alice_client: Client, bob: Any
) -> None:
    post(alice_client, SUBSCRIBE, CHROME)
    other = Client()
    other.force_login(bob)
    assert post(other, SUBSCRIBE, CHROME).status_code == 200
    assert PushSubscription.objects.get().user == bob


def test_a_user_keeps_the_newest_subscriptions(push_on: None, alice_client: Client) -> None:
    with PushEndpoint() as endpoint:
        for _ in range(push.MAX_PER_USER + 3):
            assert post(alice_client, SUBSCRIBE, endpoint.browser().json()).status_code == 200
    assert PushSubscription.objects.count() == push.MAX_PER_USER


def test_unsubscribe(push_on: None, alice_client: Client, bob: Any) -> None:
    post(alice_client, SUBSCRIBE, CHROME)
    other = Client()
    other.force_login(bob)
    body = {"endpoint": CHROME["endpoint"]}
    assert post(other, UNSUBSCRIBE, body).json() == {"ok": True, "deleted": False}
    assert post(alice_client, UNSUBSCRIBE, body).json() == {"ok": True, "deleted": True}
    assert not PushSubscription.objects.exists()
    assert post(alice_client, UNSUBSCRIBE, {"endpoint": "ftp://x"}).status_code == 400


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"endpoint": "http://push.example.com/x"}, "https"),
        ({"endpoint": "https://user:pw@push.example.com/x"}, "valid URL"),
        ({"endpoint": "https:///nohost"}, "valid URL"),
        ({"endpoint": "https://push.example.com/" + "a" * 1024}, "valid URL"),
        ({"endpoint": 42}, "valid URL"),
        ({"endpoint": "https://[::1/x"}, "valid URL"),
        ({"keys": {"p256dh": CHROME["keys"]["p256dh"]}}, "p256dh and auth"),
        ({"keys": {"p256dh": "BAAA", "auth": "tBHItJI5svbpez7KI4CCXg"}}, "P-256"),
        ({"keys": {"p256dh": "B" + "A" * 86, "auth": "tBHItJI5svbpez7KI4CCXg"}}, "P-256"),
        ({"keys": {"p256dh": CHROME["keys"]["p256dh"], "auth": "dG9vc2hvcnQ"}}, "16 bytes"),
        ({"keys": {"p256dh": CHROME["keys"]["p256dh"], "auth": "tBHI+JI5svbpez7KI4CCXg"}}, "16"),
        ({"expirationTime": "tomorrow"}, "number"),
        ({"expirationTime": True}, "number"),
        ({"extra": 1}, "unknown"),
    ],
)
def test_a_malformed_subscription_is_a_400_with_a_clear_error(
    push_on: None, alice_client: Client, change: dict[str, Any], error: str
) -> None:
    response = post(alice_client, SUBSCRIBE, {**CHROME, **change})
    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert error in response.json()["error"]
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b'{"a": "' + b"x" * 5000 + b'"}']
)
def test_a_body_that_is_no_json_object_is_a_400(
    push_on: None, alice_client: Client, body: bytes
) -> None:
    response = post(alice_client, SUBSCRIBE, body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_an_http_endpoint_only_for_a_listed_host(push_on: None, alice_client: Client) -> None:
    local = {**CHROME, "endpoint": "http://127.0.0.1:9/push/x"}
    assert post(alice_client, SUBSCRIBE, local).status_code == 200
    other = {**CHROME, "endpoint": "http://127.0.0.2:9/push/x"}
    assert post(alice_client, SUBSCRIBE, other).status_code == 400


def test_anonymous_users_and_gets_are_refused(push_on: None, client: Client) -> None:
    response = post(client, SUBSCRIBE, CHROME)
    assert response.status_code == 403
    assert "Log in" in response.json()["error"]
    assert client.get(SUBSCRIBE).status_code == 405
    assert post(client, UNSUBSCRIBE, CHROME).status_code == 403
    assert not PushSubscription.objects.exists()


def test_push_off_is_a_404(alice_client: Client, settings: Any) -> None:
    settings.CHATTER_PUSH = None
    assert post(alice_client, SUBSCRIBE, CHROME).status_code == 404
    assert post(alice_client, UNSUBSCRIBE, CHROME).status_code == 404


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
b64text = st.binary(max_size=80).map(b64) | st.text(max_size=90)


@hsettings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "endpoint": st.sampled_from([CHROME["endpoint"], "https://a.example/x"])
                | st.text(max_size=40)
            },
            optional={
                "expirationTime": json_values,
                "keys": st.fixed_dictionaries({"p256dh": b64text, "auth": b64text}) | json_values,
            },
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_any_body_gets_a_json_answer_and_stores_only_a_valid_subscription(
    push_on: None, alice_client: Client, body: bytes
) -> None:
    PushSubscription.objects.all().delete()
    response = post(alice_client, SUBSCRIBE, body)
    assert response.status_code in (200, 400)
    answer = response.json()
    assert answer["ok"] is (response.status_code == 200)
    assert PushSubscription.objects.exists() is (response.status_code == 200)
    assert post(alice_client, UNSUBSCRIBE, body).status_code in (200, 400)


def test_subscribing_needs_the_csrf_token(push_on: None, alice: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert post(client, SUBSCRIBE, CHROME).status_code == 403
    client.get(reverse("chatter:preferences"))  # the page with the button sets the token
    token = client.cookies["csrftoken"].value
    response = client.post(
        SUBSCRIBE, json.dumps(CHROME), content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200
    assert PushSubscription.objects.filter(user=alice).count() == 1


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_requests_subscribing_one_browser_at_once_both_succeed(
    push_on: None, alice: Any, bob: Any
) -> None:
    """bob's subscribe waits on the unique endpoint that alice's open transaction inserted,
    then finds it taken: it takes the row over instead of failing with a 500."""
    import threading

    from django.db import connections, transaction

    from chatter import push_input

    sub = push_input.parse_subscription(json.dumps(CHROME).encode())
    outcome: list[Any] = []

    def bobs_request() -> None:
        try:
            outcome.append(push.subscribe(bob, sub, "Firefox"))
        except Exception as exc:  # the test reports it
            outcome.append(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        push.subscribe(alice, sub, "Chrome")
        thread = threading.Thread(target=bobs_request)
        thread.start()
        with connection.cursor() as cursor:
            for _ in range(600):  # until bob's insert waits for this transaction (60 s)
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # fresh in a transaction
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
                if cursor.fetchone()[0]:
                    break
                threading.Event().wait(0.1)
            else:
                pytest.fail(f"bob's subscribe never waited for the endpoint's row: {outcome}")
    thread.join(60)
    assert [type(o) for o in outcome] == [PushSubscription]
    row = PushSubscription.objects.get()
    assert row.user == bob and row.user_agent == "Firefox"


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (UA, "Chrome (Linux)"),
        ("Mozilla/5.0 (Windows NT 10.0) Gecko/20100101 Firefox/133.0", "Firefox (Windows)"),
        ("Mozilla/5.0 (Windows NT 10.0) Chrome/131.0 Safari/537.36 Edg/131.0", "Edge (Windows)"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Version/18.1 Safari/604.1", "Safari (iPhone)"),
        ("Mozilla/5.0 Safari/605", "Safari"),
        ("curl/8.0", "curl/8.0"),
    ],
)
def test_the_browser_label(agent: str, label: str) -> None:
    from chatter.push_views import _browser

    assert _browser(agent) == label
