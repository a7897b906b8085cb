from django.db import migrations

from portal.trigram import BIGRAM_FUNCTION, BIGRAM_FUNCTION_AGGREGATE


def _replace(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    """``qungui_bigrams`` as one inlinable expression (see portal.trigram). The indexes built with the
    first version stay right without a rebuild: they hold every character pair of each value, all a
    search asks for; the new version adds only one-character and empty entries no search looks up."""

    dependencies = [
        ("groups", "0019_chatmessage_employee_group"),
        ("violations", "0010_bigram_search_indexes"),
    ]

    operations = [
        migrations.RunPython(_replace(BIGRAM_FUNCTION), _replace(BIGRAM_FUNCTION_AGGREGATE), elidable=False),
    ]
