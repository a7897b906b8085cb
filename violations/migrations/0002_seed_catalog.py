"""Seed the rule catalog (the 26 rules of docs/domain.md) and the company settings row."""

from decimal import Decimal

from django.db import migrations

from violations.catalog_seed import RULES


def seed(apps, schema_editor):
    Rule = apps.get_model("violations", "Rule")
    CompanySettings = apps.get_model("violations", "CompanySettings")
    for code, zh, en, category, specs, points, fine, threshold, repeat in RULES:
        Rule.objects.update_or_create(
            code=code,
            defaults={
                "title_zh": zh,
                "title_en": en,
                "category": category,
                "default_sanctions": specs,
                "performance_points": points,
                "fine_amount": Decimal(fine),
                "repeat_threshold": threshold,
                "repeat_sanctions": repeat,
            },
        )
    CompanySettings.objects.get_or_create(singleton=True)


def unseed(apps, schema_editor):
    # Rules may be referenced by violations by now: leave them; only an unused catalog is removed.
    Rule = apps.get_model("violations", "Rule")
    Rule.objects.filter(violations__isnull=True, code__in=[r[0] for r in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("violations", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
