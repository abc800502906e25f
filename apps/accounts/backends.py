"""Authentication backend that turns dealer roles into Django permissions."""
from django.contrib.auth.backends import ModelBackend

from .roles import permissions_for_role
from .scoping import _memberships


class DealerRoleBackend(ModelBackend):
    """ModelBackend (passwords, per-user and group permissions for IT) plus the
    permissions of the user's dealer roles.

    Without an object, a permission held at any dealer counts (so the admin shows
    the model); the scoped admin then checks the object's own dealer through
    apps.accounts.scoping.role_at.
    """

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        perms = set(super().get_all_permissions(user_obj))
        for role in set(_memberships(user_obj).values()):
            perms |= permissions_for_role(role)
        return perms
