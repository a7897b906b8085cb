"""Seed the keyword lexicon (violations/lexicon_seed.py): a few entries per keyword rule for HR to complete."""

from django.db import migrations

from violations.lexicon_seed import LEXICON
from violations.models.lexicon import canonical_text


def seed(apps, schema_editor):
    Rule = apps.get_model("violations", "Rule")
    LexiconEntry = apps.get_model("violations", "LexiconEntry")
    rules = dict(Rule.objects.values_list("code", "pk"))
    for code, kind, text, note in LEXICON:
        if code in rules:
            LexiconEntry.objects.get_or_create(
                rule_id=rules[code], kind=kind, text=canonical_text(kind, text), defaults={"note": note}
            )


def unseed(apps, schema_editor):
    LexiconEntry = apps.get_model("violations", "LexiconEntry")
    LexiconEntry.objects.filter(created_by__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("violations", "0014_lexicon")]

    operations = [migrations.RunPython(seed, unseed)]
