from django.db import migrations

from portal.trigram import bigram_indexes


class Migration(migrations.Migration):
    """GIN index on character pairs for two-character search terms (PostgreSQL only; see portal.trigram)."""

    dependencies = [
        ('violations', '0009_admin_list_indexes'),
        ('groups', '0012_bigram_search_indexes'),  # creates qungui_bigrams()
    ]

    operations = [
        bigram_indexes([('violations_violation', 'description')]),
    ]
