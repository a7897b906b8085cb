"""A detection's messages are its ``message_ids`` alone: the link table repeated them, and its foreign
key to the message table locked each cited message row at every commit of a detection run (2.0 s of
the 2.5 s the links cost for 41,377 detections, bench/README.md). The reverse recreates the table and
refills it from ``message_ids`` (the messages that still exist)."""

from django.db import migrations


def refill_links(apps, schema_editor):
    Detection = apps.get_model("violations", "Detection")
    ChatMessage = apps.get_model("groups", "ChatMessage")
    through = Detection.messages.through
    rows = Detection.objects.order_by("pk").values_list("pk", "message_ids")
    batch: list[tuple[int, int]] = []

    def flush():
        existing = set(ChatMessage.objects.filter(pk__in={m for _d, m in batch}).values_list("pk", flat=True))
        through.objects.bulk_create(
            [through(detection_id=d, chatmessage_id=m) for d, m in batch if m in existing], ignore_conflicts=True
        )
        batch.clear()

    for pk, message_ids in rows.iterator(chunk_size=2000):
        batch += [(pk, int(m)) for m in dict.fromkeys(message_ids or [])]
        if len(batch) >= 2000:
            flush()
    if batch:
        flush()


class Migration(migrations.Migration):
    dependencies = [
        ("groups", "0021_membership_group_platform"),
        ("violations", "0020_description_pairs_only"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, refill_links, elidable=False),
        migrations.RemoveField(
            model_name="detection",
            name="messages",
        ),
    ]
