"""The violations' description's pair index holds the pairs of the text without its separators
(digits, spaces, punctuation: ``portal.trigram.SEPARATED_COLUMNS``), half as many for a suspicion's
description, which is half times and numbers: half the index's cost of writing each of the 250,000
suspicions a month's detection stores. The reverse puts the index of every pair back (PostgreSQL
only)."""

from django.db import migrations

from portal.trigram import separated_pair_index


class Migration(migrations.Migration):
    dependencies = [
        ("violations", "0022_lexicon_agent_phrases"),
    ]

    operations = [
        separated_pair_index("violations_violation", "description"),
    ]
