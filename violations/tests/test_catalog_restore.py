"""The seeded rule catalog survives ``flush`` (seed_demo --reset, transactional tests)."""

import pytest
from django.core.management import call_command

from violations.catalog_seed import RULES
from violations.models import CompanySettings, LexiconEntry, Rule


@pytest.mark.django_db(transaction=True)
def test_flush_restores_the_catalog_without_overwriting_hr_edits():
    Rule.objects.filter(code="C01").update(performance_points=7)
    call_command("flush", interactive=False, verbosity=0)
    assert Rule.objects.count() == len(RULES)
    assert CompanySettings.objects.count() == 1
    Rule.objects.filter(code="C01").update(performance_points=7)
    LexiconEntry.objects.filter(rule__code="C02").delete()  # it protects its rule
    Rule.objects.filter(code="C02").delete()
    from violations.catalog_seed import restore_missing

    restore_missing()
    assert Rule.objects.get(code="C01").performance_points == 7  # HR's edit kept
    assert Rule.objects.filter(code="C02").exists()


@pytest.mark.django_db(transaction=True)
def test_flush_restores_the_directive_settings_and_the_seeded_lexicon_but_keeps_hr_lexicon():
    from violations.lexicon_seed import LEXICON
    from violations.models import DirectiveSettings

    seeded = LexiconEntry.objects.count()
    assert seeded >= len({(c, k) for c, k, _t, _n in LEXICON})  # the data migration's seed
    call_command("flush", interactive=False, verbosity=0)
    assert DirectiveSettings.objects.count() == 1
    assert LexiconEntry.objects.count() == seeded
    LexiconEntry.objects.filter(rule__code="C06").update(active=False)
    LexiconEntry.objects.exclude(rule__code="C06").delete()
    from violations.catalog_seed import restore_missing

    restore_missing()  # HR keeps a lexicon: it is not reseeded
    assert set(LexiconEntry.objects.values_list("rule__code", "active").distinct()) == {("C06", False)}
