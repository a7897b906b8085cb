"""The seeded rule catalog survives ``flush`` (seed_demo --reset, transactional tests)."""

import pytest
from django.core.management import call_command

from violations.catalog_seed import RULES
from violations.models import CompanySettings, Rule


@pytest.mark.django_db(transaction=True)
def test_flush_restores_the_catalog_without_overwriting_hr_edits():
    Rule.objects.filter(code="C01").update(performance_points=7)
    call_command("flush", interactive=False, verbosity=0)
    assert Rule.objects.count() == len(RULES)
    assert CompanySettings.objects.count() == 1
    Rule.objects.filter(code="C01").update(performance_points=7)
    Rule.objects.filter(code="C02").delete()
    from violations.catalog_seed import restore_missing

    restore_missing()
    assert Rule.objects.get(code="C01").performance_points == 7  # HR's edit kept
    assert Rule.objects.filter(code="C02").exists()
