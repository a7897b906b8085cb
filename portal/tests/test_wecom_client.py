"""The WeCom server API client against the local server (portal/tests/wecom_api_server.py), not mocks:
token cache and refresh, frequency-limit back-off, cursor paging, transfer with per-chat failures,
and no secret or token in logs or errors."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache

from portal.tests.wecom_api_server import CORP_ID, SECRETS, World, start
from portal.wecom import (
    WeComClient,
    WeComCredentials,
    WeComError,
    WeComRateLimited,
    WeComUnavailable,
    redact,
)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def client(server, app="customer", **kwargs) -> WeComClient:
    creds = WeComCredentials(CORP_ID, SECRETS[app], base_url=server.base_url, app=app)
    kwargs.setdefault("sleep", lambda seconds: None)
    return WeComClient(creds, **kwargs)


def test_token_is_cached_across_clients_and_calls(wecom_api_server):
    first = client(wecom_api_server)
    first.groupchat_list(limit=10)
    client(wecom_api_server).groupchat_list(limit=10)  # another worker: the same cached token
    assert len(wecom_api_server.calls("gettoken")) == 1
    tokens = {q["access_token"] for _p, q, _b in wecom_api_server.calls("externalcontact/groupchat/list")}
    assert len(tokens) == 1


@pytest.mark.parametrize("how", ["expire", "forget"])
def test_expired_or_unknown_token_is_refreshed_once(wecom_api_server, how):
    api = client(wecom_api_server)
    api.groupchat_list(limit=5)
    if how == "expire":
        wecom_api_server.expire_tokens()  # 42001
    else:
        wecom_api_server.tokens.clear()  # 40014
    assert api.groupchat_list(limit=5)["group_chat_list"]
    assert len(wecom_api_server.calls("gettoken")) == 2


def test_short_token_lifetime_is_not_cached_past_the_margin(settings):
    server = start(token_ttl=settings.WECOM_TOKEN_MARGIN_SECONDS + 1)
    try:
        api = client(server)
        token = api.access_token()
        assert cache.get(api.credentials.cache_key()) == token
        server.token_ttl = settings.WECOM_TOKEN_MARGIN_SECONDS  # nothing left after the margin
        api.access_token(refresh=True)
        assert cache.get(api.credentials.cache_key()) is None
        api.access_token()
        assert len(server.calls("gettoken")) == 3
    finally:
        server.shutdown()
        server.server_close()


def test_each_secret_opens_only_its_app(wecom_api_server):
    with pytest.raises(WeComError) as caught:
        client(wecom_api_server, app="contacts").groupchat_list(limit=1)
    assert (caught.value.errcode, caught.value.path) == (48002, "externalcontact/groupchat/list")
    assert client(wecom_api_server, app="contacts").department_list()[0]["name"] == "总公司"


def test_wrong_secret_is_a_typed_error_without_the_secret(wecom_api_server):
    creds = WeComCredentials(CORP_ID, "not-the-secret-xyz", base_url=wecom_api_server.base_url)
    with pytest.raises(WeComError) as caught:
        WeComClient(creds).access_token()
    assert caught.value.errcode == 40001 and caught.value.path == "gettoken"
    assert "not-the-secret-xyz" not in str(caught.value) and "not-the-secret-xyz" not in repr(creds)


def test_frequency_limit_backs_off_with_jitter_then_succeeds(wecom_api_server):
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        wecom_api_server.rate_per_minute = 0  # the minute is over

    api = client(wecom_api_server, sleep=sleep, backoff=2.0)
    wecom_api_server.rate_per_minute = 1
    api.groupchat_list(limit=1)
    api.groupchat_list(limit=1)  # the second call of this minute: 45009, waits, succeeds
    assert len(pauses) == 1 and 2.0 <= pauses[0] <= 4.0  # backoff * 2**1, jittered to 50–100%


def test_frequency_limit_gives_up_after_the_bound(wecom_api_server):
    pauses = []
    api = client(wecom_api_server, sleep=pauses.append, rate_retries=3, backoff=1.0, backoff_cap=3.0)
    wecom_api_server.rate_per_minute = 1
    api.groupchat_list(limit=1)
    with pytest.raises(WeComRateLimited) as caught:
        api.groupchat_list(limit=1)
    assert caught.value.errcode == 45009 and len(pauses) == 3 and max(pauses) <= 3.0


def test_busy_and_down_are_retried_then_unavailable(wecom_api_server):
    api = client(wecom_api_server, retries=2)
    api.access_token()
    wecom_api_server.fail_calls["externalcontact/groupchat/list"] = {1}  # -1 system busy once
    assert api.groupchat_list(limit=1)["group_chat_list"]
    wecom_api_server.down = True
    with pytest.raises(WeComUnavailable):
        api.groupchat_list(limit=1)
    assert len(wecom_api_server.calls("externalcontact/groupchat/list")) == 2 + 3


def test_unreachable_server_error_names_no_secret():
    creds = WeComCredentials(CORP_ID, "secret-that-must-not-leak", base_url="http://127.0.0.1:9/cgi-bin")
    with pytest.raises(WeComUnavailable) as caught:
        WeComClient(creds, retries=1, sleep=lambda s: None, timeout=2).access_token()
    assert "secret-that-must-not-leak" not in str(caught.value)


def test_cursor_paging_over_thousands_of_groups():
    server = start(World(groups=2500, members_per_group=5))
    try:
        api = client(server)
        seen = [entry["chat_id"] for entry, _cursor in api.iter_groupchats(limit=1000)]
        assert seen == server.world.chat_ids and len(set(seen)) == 2500
        assert len(server.calls("externalcontact/groupchat/list")) == 3
        departed = [e for e, _c in api.iter_groupchats(status_filter=1)]
        assert departed and all(e["status"] == 1 for e in departed)
        assert {server.world.owner(server.world.index[e["chat_id"]]) for e in departed} <= set(server.world.departed)
        with pytest.raises(ValueError):
            api.groupchat_list(limit=1001)
    finally:
        server.shutdown()
        server.server_close()


def test_resume_from_a_stored_cursor(wecom_api_server):
    api = client(wecom_api_server)
    entries = list(api.iter_groupchats(limit=20))
    cursor = entries[25][1]  # the cursor of the page holding the 26th group
    resumed = [e["chat_id"] for e, _c in api.iter_groupchats(limit=20, cursor=cursor)]
    assert resumed == wecom_api_server.world.chat_ids[20:]


def test_groupchat_get_has_the_documented_fields_and_members_exist(wecom_api_server):
    api = client(wecom_api_server)
    world = wecom_api_server.world
    chat = api.groupchat_get(world.chat_ids[0])
    assert set(chat) == {"chat_id", "name", "owner", "create_time", "notice", "member_list", "admin_list"} | {
        "member_version"
    }
    users = {u["userid"] for u in client(wecom_api_server, app="contacts").user_list(1, fetch_child=True)}
    internal = [m for m in chat["member_list"] if m["type"] == 1]
    assert internal and {m["userid"] for m in internal} <= users
    assert {"userid", "type", "join_time", "join_scene", "group_nickname", "name"} <= set(chat["member_list"][0])
    assert "name" not in api.groupchat_get(world.chat_ids[0], need_name=False)["member_list"][0]
    ids = [row["userid"] for row in client(wecom_api_server, app="contacts").iter_user_ids(limit=7)]
    assert set(ids) == users


def test_member_version_changes_when_the_group_changes(wecom_api_server):
    api = client(wecom_api_server)
    chat_id = wecom_api_server.world.chat_ids[3]
    before = api.groupchat_get(chat_id)
    wecom_api_server.world.touch(chat_id)
    after = api.groupchat_get(chat_id)
    assert after["member_version"] != before["member_version"]
    assert len(after["member_list"]) == len(before["member_list"]) - 1


def test_transfer_partial_failure(wecom_api_server):
    world = wecom_api_server.world
    departed = [c for i, c in enumerate(world.chat_ids) if world.status(i) == 1]
    normal = next(c for i, c in enumerate(world.chat_ids) if world.status(i) == 0)
    assert departed
    new_owner = world.owners[0]
    failed = client(wecom_api_server).groupchat_transfer([*departed, normal, world.room_ids[0]], new_owner)
    assert {(f["chat_id"], f["errcode"]) for f in failed} == {(normal, 90500), (world.room_ids[0], 90501)}
    assert all(world.owner(world.index[c]) == new_owner for c in departed)
    for bad in ([], [f"c{i}" for i in range(101)]):
        with pytest.raises(ValueError):
            client(wecom_api_server).groupchat_transfer(bad, new_owner)
    no_rights = next(u for u in world.active if u not in world.customer_rights)
    with pytest.raises(WeComError) as caught:
        client(wecom_api_server).groupchat_transfer(departed[:1], no_rights)
    assert caught.value.errcode == 84074


def test_msgaudit_groupchat_get(wecom_api_server):
    room = client(wecom_api_server, app="archive").msgaudit_groupchat_get(wecom_api_server.world.room_ids[0])
    assert set(room) == {"roomname", "creator", "room_create_time", "notice", "members"}
    assert {"memberid", "jointime"} == set(room["members"][0])


def test_no_secret_or_token_in_any_log_line(wecom_api_server, caplog):
    caplog.set_level(logging.DEBUG)
    api = client(wecom_api_server)
    api.groupchat_list(limit=1)
    wecom_api_server.expire_tokens()
    api.groupchat_list(limit=1)
    token = cache.get(api.credentials.cache_key())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "gettoken" in text  # urllib3 logged the URLs …
    assert SECRETS["customer"] not in text and token not in text  # … masked
    assert redact("x?access_token=abc&corpsecret=def") == "x?access_token=***&corpsecret=***"


def test_http_429_backs_off_like_45009(wecom_api_server):
    pauses = []
    api = client(wecom_api_server, sleep=pauses.append)
    api.access_token()
    wecom_api_server.http_status = [429, 429]
    assert api.groupchat_list(limit=1)["group_chat_list"]
    assert len(pauses) == 2


def test_read_timeout_retries_reads_but_never_repeats_a_transfer(wecom_api_server):
    api = client(wecom_api_server, timeout=0.3, retries=2)
    api.access_token()
    wecom_api_server.delay = 1.0
    with pytest.raises(WeComUnavailable):
        api.groupchat_list(limit=1)
    assert len(wecom_api_server.calls("externalcontact/groupchat/list")) == 3  # 1 + 2 retries
    world = wecom_api_server.world
    departed = next(c for i, c in enumerate(world.chat_ids) if world.status(i) == 1)
    with pytest.raises(WeComUnavailable):
        api.groupchat_transfer([departed], world.owners[0])
    assert len(wecom_api_server.calls("externalcontact/groupchat/transfer")) == 1  # WeCom may have done it


def test_an_html_404_is_an_error_not_a_retry(tmp_path):
    """A wrong base URL (a web server's 404 page, not JSON): WeComError at once, no back-off."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    web = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        creds = WeComCredentials(CORP_ID, SECRETS["customer"], base_url=f"http://127.0.0.1:{web.server_port}/cgi-bin")
        pauses = []
        with pytest.raises(WeComError) as caught:
            WeComClient(creds, sleep=pauses.append).access_token()
        assert caught.value.errcode == 404 and not isinstance(caught.value, WeComUnavailable) and not pauses
    finally:
        web.shutdown()
        web.server_close()
