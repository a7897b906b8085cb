"""The dashboard's lists of people mark a departed employee (离职) and name people with their 工号."""

from __future__ import annotations

import pytest
from django.urls import reverse

from .dashboard_data import NOW, build

pytestmark = pytest.mark.django_db

BADGE = '<span class="badge-departed">离职</span>'


def test_departed_member_finding_is_marked(client, hr, org, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    build(org)
    client.force_login(hr)
    page = client.get(reverse("dashboard")).content.decode()
    # The oldest findings list: 赵六 still in the sales group although departed.
    assert f'华东区-赵六 <span class="muted small">E0102</span>{BADGE}' in page
    assert f'张三</a> <span class="muted small">E0101</span>{BADGE}' not in page
