"""Template filters showing people the way every HR screen does (``groups.people``).

``{{ employee|employee }}`` → 张三(E0102) 离职-badge; ``{{ user|person }}`` → the employee behind a login.
"""

from __future__ import annotations

from django import template

from .. import people

register = template.Library()


@register.filter
def employee(value, department=False):
    return people.employee_html(value, department=bool(department))


@register.filter
def person(value):
    return people.user_html(value)


@register.simple_tag
def departed_badge():
    return people.departed_badge()
