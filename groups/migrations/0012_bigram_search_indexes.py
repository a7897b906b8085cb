from django.db import migrations

from portal.trigram import bigram_indexes


class Migration(migrations.Migration):
    """GIN indexes on character pairs for two-character search terms (PostgreSQL only; see portal.trigram)."""

    dependencies = [
        ('groups', '0011_admin_list_indexes'),
    ]

    operations = [
        bigram_indexes([('groups_employee', 'name'), ('groups_employee', 'employee_no'), ('groups_employee', 'wechat_id'), ('groups_employee', 'wecom_id'), ('groups_membership', 'nickname'), ('groups_membership', 'platform_id')], drop_function=True),
    ]
