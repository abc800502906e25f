from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate


class LeadsConfig(AppConfig):
    name = "apps.leads"
    label = "leads"
    verbose_name = "Leads"

    def ready(self):
        # In ready(), not at the top: these import models, which Django allows only once
        # every app is loaded.
        from . import held
        from .digest import ensure_schedule
        from .landing import remember_landing

        post_migrate.connect(ensure_schedule, sender=self)
        user_logged_in.connect(remember_landing, dispatch_uid="leadhub-landing")
        held.connect()  # saving a mapping re-checks the vendor updates held for it
