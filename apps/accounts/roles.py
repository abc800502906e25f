"""What each dealer role may do, in one table.

Permissions are Django's own codenames, so the admin, `user.has_perm` and any
later screen agree. They are granted per dealer: a dealer admin of B330 who is
staff at C440 may edit B330's reasons and only read C440's. The object-level
half of that lives in DealerRoleBackend and the scoped admin.
"""
from functools import cache

from django.apps import apps

from .models import Role


def _crud(app_model: str, *actions: str) -> set[str]:
    app, model = app_model.split(".")
    return {f"{app}.{action}_{model}" for action in actions}


STAFF_PERMISSIONS = frozenset(
    _crud("accounts.dealer", "view")
    | _crud("leads.lead", "view", "add", "change")
    | _crud("leads.followup", "view", "add", "change")
    | _crud("leads.statuslog", "view")
    | _crud("leads.leadevent", "view")
    | _crud("sync.outboxitem", "view")
    | _crud("leads.reason", "view")
    | _crud("leads.salesstage", "view")
    | _crud("vendors.vendoraccount", "view")
)

ADMIN_PERMISSIONS = frozenset(
    STAFF_PERMISSIONS
    | _crud("accounts.dealer", "change")
    | _crud("accounts.membership", "view", "change")  # away dates and rep numbers; roles stay IT's
    | _crud("leads.lead", "delete")
    | _crud("leads.followup", "delete")
    | _crud("leads.reason", "add", "change", "delete")
    | _crud("leads.reasonmapping", "view", "add", "change", "delete")
    | _crud("leads.salesstage", "add", "change", "delete")
    | _crud("leads.stagemapping", "view", "add", "change", "delete")
    | _crud("leads.statusmapping", "view", "add", "change", "delete")
    | _crud("vendors.vendoraccount", "add", "change", "delete")
    | _crud("sync.synchealth", "view")
    | _crud("sync.outboxitem", "view", "change")
    | _crud("sync.inboxpage", "view")
    | _crud("sync.syncrun", "view")
    | _crud("routing.routingrule", "view", "add", "change", "delete")
)

ROLE_PERMISSIONS = {Role.STAFF: STAFF_PERMISSIONS, Role.ADMIN: ADMIN_PERMISSIONS}


@cache
def permissions_for_role(role: str) -> frozenset[str]:
    """The role's permissions: the table above plus what each installed app
    declares for its own models (`role_permissions` on its AppConfig: role ->
    codenames), so a vendor app brings its permissions with it and this module
    names no vendor. A dealer admin has every staff permission."""
    granted = set(ROLE_PERMISSIONS.get(role, frozenset()))
    roles = {Role.STAFF: (Role.STAFF,), Role.ADMIN: (Role.STAFF, Role.ADMIN)}.get(role, ())
    for config in apps.get_app_configs():
        declared = getattr(config, "role_permissions", {})
        for each in roles:
            granted |= set(declared.get(each, ()))
    return frozenset(granted)
