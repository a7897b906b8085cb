"""The violations' description keeps its character-pair index alone (PostgreSQL): that index answers
every search term of two characters or more (``portal.trigram.BIGRAM_ONLY_COLUMNS``), and the trigram
index beside it cost a quarter of writing a violation, which every stored suspicion does. The reverse
puts the trigram index back."""

from django.db import migrations

from portal.trigram import trigram_indexes

_TRIGRAM = trigram_indexes("violations", {"violation": ["description"]})


class Migration(migrations.Migration):
    dependencies = [
        ("violations", "0019_detection_excerpt_purged_at"),
    ]

    operations = [
        migrations.RunPython(_TRIGRAM.reverse_code, _TRIGRAM.code, elidable=False),  # PostgreSQL only
    ]
