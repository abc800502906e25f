"""Adding a vendor is one folder plus one line in the registry
(docs/architecture.md, "Adding a vendor"): no migration, no shared file."""
from __future__ import annotations

from django.core.management import call_command

from apps.vendors.core import registry


def test_a_new_registry_line_needs_no_migration(db):
    # In place, as a new line in the module would be seen by anything that holds the list.
    registry.VENDOR_CHOICES.append(("acme", "Acme Leads API"))
    try:
        assert ("acme", "Acme Leads API") in registry.vendor_choices()
        # Exits 1 when a model change has no migration; the vendor fields name the
        # registry's function, not a copy of its list.
        call_command("makemigrations", "--check", "--dry-run", verbosity=0)
    finally:
        registry.VENDOR_CHOICES.remove(("acme", "Acme Leads API"))


def test_every_vendor_in_the_registry_is_an_installed_app_of_its_own(settings):
    for kind in registry.ADAPTERS:
        package = registry.vendor_package(kind)
        assert package == f"apps.vendors.{kind}" and package in settings.INSTALLED_APPS
        assert registry.adapter_class(kind).kind == kind
