"""The seeded C06 word "代理" becomes the phrases of a recruitment ad (招代理, 代理招募 …): alone it
flagged a sales team's "代理商的订货会资料" and a manager signing as "代理". Only the seeded entry is
replaced (no author, its text and note as seeded); one HR made or edited stays."""

from django.db import migrations

from violations.models.lexicon import canonical_text

PHRASES = ["招代理", "诚招代理", "代理招募", "招募代理", "代理加盟"]


def forwards(apps, schema_editor):
    Rule = apps.get_model("violations", "Rule")
    LexiconEntry = apps.get_model("violations", "LexiconEntry")
    rule = Rule.objects.filter(code="C06").first()
    if rule is None:
        return
    seeded = LexiconEntry.objects.filter(rule=rule, kind="word", text="代理", note="招代理", created_by__isnull=True)
    if not seeded.exists():
        return
    active = seeded.first().active
    seeded.delete()
    for phrase in PHRASES:
        LexiconEntry.objects.get_or_create(
            rule=rule, kind="word", text=canonical_text("word", phrase), defaults={"active": active}
        )


def backwards(apps, schema_editor):
    Rule = apps.get_model("violations", "Rule")
    LexiconEntry = apps.get_model("violations", "LexiconEntry")
    rule = Rule.objects.filter(code="C06").first()
    if rule is None:
        return
    LexiconEntry.objects.filter(rule=rule, kind="word", text__in=PHRASES, created_by__isnull=True, note="").delete()
    LexiconEntry.objects.get_or_create(rule=rule, kind="word", text="代理", defaults={"note": "招代理"})


class Migration(migrations.Migration):
    dependencies = [("violations", "0021_detection_without_message_links")]

    operations = [migrations.RunPython(forwards, backwards)]
