"""violations 0021 drops the detections' message link table; its reverse brings it back filled from
each detection's ``message_ids`` (the messages that still exist, each once)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from groups.models import ChatMessage
from violations.models import Detection, Rule

BEFORE = ("violations", "0020_description_pairs_only")
TABLE = "violations_detection_messages"


@pytest.mark.django_db(transaction=True)
def test_the_reverse_refills_the_links_from_the_message_ids(org):
    group = org["sales_group"]
    now = timezone.now()
    first, second = (
        ChatMessage.objects.create(group=group, platform=group.platform, natural_key=k, sent_at=now, text="x")
        for k in ("a", "b")
    )
    detection = Detection.objects.create(
        detector="quiet_hours", key="k1", rule=Rule.objects.get(code="B06"), group=group, occurred_at=now,
        reason="r", message_ids=[second.pk, first.pk, second.pk, second.pk + 10_000],  # one since deleted
    )  # fmt: skip
    assert TABLE not in connection.introspection.table_names()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([BEFORE])
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT detection_id, chatmessage_id FROM {TABLE} ORDER BY chatmessage_id")  # noqa: S608
            assert cursor.fetchall() == [(detection.pk, first.pk), (detection.pk, second.pk)]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert TABLE not in connection.introspection.table_names()
    assert Detection.objects.get().message_ids == [second.pk, first.pk, second.pk, second.pk + 10_000]
