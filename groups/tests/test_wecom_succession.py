"""离职继承 through externalcontact/groupchat/transfer, against the local WeCom server: the owner
changes only when WeCom transferred the chat; failures keep their errcode on the finding with a
Chinese explanation; internal groups say why the API cannot do it; batches of 100, 300 a day."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from groups import services
from groups.models import ChatGroup, RosterFinding, WeComTransfer
from groups.succession import DAILY_LIMIT, TransferFailed, transfer_chats
from portal.models import WeComConnection
from portal.tests.wecom_api_server import CORP_ID, SECRETS, World, start

from .work_data import build_work

pytestmark = pytest.mark.django_db


def connect(server) -> None:
    row = WeComConnection.load()
    row.enabled = row.customer_enabled = True
    row.corp_id, row.base_url = CORP_ID, server.base_url
    row.set_secret("customer", SECRETS["customer"])
    row.save()
    cache.clear()


@pytest.fixture
def customer(org, django_user_model, group_admin, wecom_api_server):
    """The work data's project group as a WeCom customer group whose owner (赵六) has left."""
    world = wecom_api_server.world
    work = build_work(org, django_user_model)
    departed_chat = next(c for i, c in enumerate(world.chat_ids) if world.status(i) == 1)
    group = work["project"]
    group.external_id, group.wecom_chat_type = departed_chat, "customer"
    group.save()
    org["east_departed"].wecom_id = world.owner(world.index[departed_chat])
    org["east_departed"].save()
    org["tech_dev"].wecom_id = world.owners[0]
    org["tech_dev"].save()
    connect(wecom_api_server)
    return {**work, "chat_id": departed_chat, "world": world}


def _post(client, finding, successor):
    return client.post(reverse("groups:work_successor", args=[finding.pk]), {"successor": successor.pk})


def test_transferred_by_api_then_owner_changes(client, customer, group_admin, org, wecom_api_server):
    client.force_login(group_admin)
    page = client.get(reverse("groups:work_successor", args=[customer["owner"].pk])).content.decode()
    assert "通过企业微信接口" in page
    assert _post(client, customer["owner"], org["tech_dev"]).status_code == 302
    [(_path, _query, body)] = wecom_api_server.calls("externalcontact/groupchat/transfer")
    assert body == {"chat_id_list": [customer["chat_id"]], "new_owner": org["tech_dev"].wecom_id}
    assert ChatGroup.objects.get(pk=customer["project"].pk).owner == org["tech_dev"]
    assert RosterFinding.objects.get(pk=customer["owner"].pk).status == "resolved"
    transfer = WeComTransfer.objects.get()
    assert (transfer.status, transfer.errcode, transfer.finding_id) == ("transferred", 0, customer["owner"].pk)
    world = customer["world"]
    assert world.owner(world.index[customer["chat_id"]]) == org["tech_dev"].wecom_id  # WeCom says so too


def test_failed_chat_keeps_the_owner_and_shows_why(client, customer, group_admin, org, wecom_api_server):
    wecom_api_server.transfer_failures[customer["chat_id"]] = (84074, "no external contact permission")
    client.force_login(group_admin)
    response = _post(client, customer["owner"], org["tech_dev"])
    assert response.status_code == 200
    page = response.content.decode()
    assert "没有客户联系权限" in page  # the form error, in Chinese
    assert ChatGroup.objects.get(pk=customer["project"].pk).owner == org["east_departed"]
    assert RosterFinding.objects.get(pk=customer["owner"].pk).status == "open"
    transfer = WeComTransfer.objects.get()  # kept although the service raised
    assert (transfer.status, transfer.errcode) == ("failed", 84074)
    again = client.get(reverse("groups:work_successor", args=[customer["owner"].pk])).content.decode()
    assert "转让失败" in again and "84074" in again and "没有客户联系权限" in again


def test_owner_not_resigned_is_90500(customer, group_admin, org, wecom_api_server):
    world = customer["world"]
    active_chat = next(c for i, c in enumerate(world.chat_ids) if world.status(i) == 0)
    ChatGroup.objects.filter(pk=customer["project"].pk).update(external_id=active_chat)
    with pytest.raises(TransferFailed) as caught:
        services.apply_successor(customer["owner"].pk, org["tech_dev"], acting_user=group_admin)
    assert "尚未离职" in " ".join(caught.value.messages)
    assert WeComTransfer.objects.get().errcode == 90500


def test_successor_without_wecom_account_is_refused_before_any_call(customer, group_admin, org, wecom_api_server):
    org["tech_dev"].wecom_id = ""
    org["tech_dev"].save()
    with pytest.raises(TransferFailed):
        services.apply_successor(customer["owner"].pk, org["tech_dev"], acting_user=group_admin)
    assert not wecom_api_server.calls("externalcontact/groupchat/transfer") and not WeComTransfer.objects.exists()


def test_internal_group_says_the_api_cannot_and_is_confirmed_by_hand(
    client, customer, group_admin, org, wecom_api_server
):
    ChatGroup.objects.filter(pk=customer["project"].pk).update(wecom_chat_type="internal")
    client.force_login(group_admin)
    page = client.get(reverse("groups:work_successor", args=[customer["owner"].pk])).content.decode()
    assert "内部群无法通过企业微信接口转让群主" in page
    assert _post(client, customer["owner"], org["tech_dev"]).status_code == 302
    assert not wecom_api_server.calls("externalcontact/groupchat/transfer")
    assert ChatGroup.objects.get(pk=customer["project"].pk).owner == org["tech_dev"]


def test_daily_quota_is_counted_and_refused(customer, group_admin, org, wecom_api_server):
    WeComTransfer.objects.bulk_create(
        WeComTransfer(group=customer["project"], chat_id=f"c{i}", new_owner_userid="x", status="transferred")
        for i in range(DAILY_LIMIT)
    )
    with pytest.raises(TransferFailed) as caught:
        services.apply_successor(customer["owner"].pk, org["tech_dev"], acting_user=group_admin)
    assert "每日离职继承上限" in " ".join(caught.value.messages)
    assert not wecom_api_server.calls("externalcontact/groupchat/transfer")


def test_batches_of_100_within_the_quota_left(org, hr):
    server = start(World(groups=5000, members_per_group=3))
    try:
        connect(server)
        world = server.world
        departed = [c for i, c in enumerate(world.chat_ids) if world.status(i) == 1][:150]
        assert len(departed) == 150
        groups = [
            ChatGroup.objects.create(
                name=f"客户群{n}", platform="wecom", kind="customer", department=org["sales"], external_id=chat_id,
                wecom_chat_type="customer",
            )
            for n, chat_id in enumerate(departed)
        ]  # fmt: skip
        successor = org["tech_dev"]
        successor.wecom_id = world.owners[0]
        successor.save()
        WeComTransfer.objects.bulk_create(
            WeComTransfer(group=groups[0], chat_id=f"old{i}", new_owner_userid="x", status="transferred")
            for i in range(DAILY_LIMIT - 120)
        )  # 120 left today
        rows = transfer_chats(groups, successor, acting_user=hr)
        sizes = [len(body["chat_id_list"]) for _p, _q, body in server.calls("externalcontact/groupchat/transfer")]
        assert sizes == [100, 20] and len(rows) == 120 and all(r.status == "transferred" for r in rows)
        assert WeComTransfer.objects.left_today() == 0
    finally:
        server.shutdown()
        server.server_close()


def test_customer_group_without_customer_contact_enabled_is_confirmed_by_hand(
    customer, group_admin, org, wecom_api_server
):
    WeComConnection.objects.update(customer_enabled=False)
    from groups.succession import api_transfer_refusal

    assert "未启用客户联系" in api_transfer_refusal(ChatGroup.objects.get(pk=customer["project"].pk))
    services.apply_successor(customer["owner"].pk, org["tech_dev"], acting_user=group_admin)
    assert not wecom_api_server.calls("externalcontact/groupchat/transfer")
    assert ChatGroup.objects.get(pk=customer["project"].pk).owner == org["tech_dev"]
