"""Leads reported on before Lead.first_reported_at existed: the first status report
the lead's own vendor account accepted (apps/reports/measures.py)."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("sync", "0006_outbox_supplement"),
        ("leads", "0015_lead_first_outcome_and_report"),
    ]

    operations = [
        migrations.RunSQL(
            "UPDATE leads_lead SET first_reported_at = (SELECT MIN(o.sent_at) FROM sync_outboxitem o "
            "WHERE o.lead_id = leads_lead.id AND o.account_id = leads_lead.vendor_account_id "
            "AND o.status_log_id IS NOT NULL AND o.state = 'sent') "
            "WHERE first_reported_at IS NULL AND vendor_account_id IS NOT NULL",
            migrations.RunSQL.noop),
    ]
