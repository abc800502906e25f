"""vendor kind -> adapter class, imported lazily so one vendor's import cost or
failure never touches another. The VendorAccount.vendor choices come from here."""
from __future__ import annotations

from functools import cache
from importlib import import_module

from .base import VendorAdapter

ADAPTERS: dict[str, tuple[str, str]] = {
    # kind: (dotted path, verbose name)
    "cat": ("apps.vendors.cat.adapter.CatAdapter", "Caterpillar PP+ Lead API V2"),
    "capillary": ("apps.vendors.capillary.adapter.CapillaryAdapter", "Capillary LMS Leads v2"),
    "cap": ("apps.vendors.cap.adapter.CapGatewayAdapter", "CAP Gateway lead submission"),
    "aimbase": ("apps.vendors.aimbase.adapter.AimbaseAdapter", "Aimbase Lead API"),
}

# The vendors' Django apps, for INSTALLED_APPS (leadhub/settings.py reads this, so
# a vendor is added here only).
VENDOR_APPS = [dotted.split(".adapter.")[0] for dotted, _ in ADAPTERS.values()]

VENDOR_CHOICES = [(kind, name) for kind, (_, name) in ADAPTERS.items()]


def vendor_choices() -> list[tuple[str, str]]:
    """The `choices` of every model field naming a vendor kind. A callable, so the
    migrations name this function rather than copy the list: adding a vendor to
    ADAPTERS needs no migration."""
    return list(VENDOR_CHOICES)


class UnknownVendor(KeyError):
    pass


@cache
def adapter_class(kind: str) -> type[VendorAdapter]:
    try:
        dotted, _ = ADAPTERS[kind]
    except KeyError:
        raise UnknownVendor(f"unknown vendor {kind!r}; known: {', '.join(ADAPTERS)}") from None
    module_name, _, class_name = dotted.rpartition(".")
    return getattr(import_module(module_name), class_name)


def all_adapter_classes() -> list[type[VendorAdapter]]:
    return [adapter_class(kind) for kind in ADAPTERS]


def vendor_package(kind: str) -> str:
    """The vendor's package, apps.vendors.<kind> (its Django app)."""
    dotted, _ = ADAPTERS[kind]
    return dotted.split(".adapter.")[0]


def vendor_module(kind: str, name: str):
    """A module of the vendor's package by its conventional name (demo, rules,
    payloads...), imported when asked: seed_demo and run_demo loop over every
    vendor's `demo` module this way and name no vendor themselves."""
    return import_module(f"{vendor_package(kind)}.{name}")
