"""Dealer scoping for every admin screen.

Every ModelAdmin and inline of LeadHub inherits one of the mixins below and
names `dealer_field`, the lookup from its model to the Dealer. From that one
attribute they scope: the changelist and its counts, the change/history/delete
views by primary key (an object of another dealer is simply not found), admin
actions (they receive the scoped queryset), autocomplete (Django asks the
related model's admin for its queryset), the choices of every foreign key in
forms and list filters, and exports (django-import-export builds them from the
same changelist queryset).
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from simple_history.admin import SimpleHistoryAdmin

from .models import Dealer
from .roles import permissions_for_role
from .scoping import dealer_id_of, dealer_ids_for, role_at, scope_queryset


def _perm(model, action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def dealers_with_perm(user, perm: str) -> set[int] | None:
    """Dealer ids where the user's role grants `perm` (None = all, for superusers)."""
    ids = dealer_ids_for(user)
    if ids is None:
        return None
    return {d for d in ids if perm in permissions_for_role(role_at(user, d))}


def scoped_users(user):
    """Users the given user may pick (as owner, assignee): people of their dealers."""
    users = get_user_model().objects.filter(is_active=True)
    ids = dealer_ids_for(user)
    if ids is None:
        return users.order_by("username")
    return users.filter(memberships__dealer_id__in=ids).distinct().order_by("username")


def _registered_dealer_field(admin_site, model) -> str | None:
    model_admin = admin_site._registry.get(model)
    return getattr(model_admin, "dealer_field", None)


class _ScopedFormFieldsMixin:
    """Limit every foreign key choice to what the user's dealers own."""

    def _scope_related_queryset(self, request, model, queryset, action="change"):
        """`queryset` of `model` limited to what the user may pick when they
        `action` ("add", "change" or "view") an object of this admin's model."""
        if model is Dealer:
            allowed = dealers_with_perm(request.user, _perm(self.model, action))
            return queryset if allowed is None else queryset.filter(pk__in=allowed)
        if model is get_user_model():
            if dealer_ids_for(request.user) is None:
                return queryset
            return queryset.filter(pk__in=scoped_users(request.user).values("pk"))
        path = _registered_dealer_field(self.admin_site, model)
        if path is not None:
            return scope_queryset(queryset, request.user, path)
        return queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            action = "add" if request.resolver_match and request.resolver_match.url_name.endswith("_add") else "change"
            formfield.queryset = self._scope_related_queryset(request, db_field.related_model, formfield.queryset,
                                                              action)
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            formfield.queryset = self._scope_related_queryset(request, db_field.related_model, formfield.queryset)
        return formfield


class DealerScopedAdmin(_ScopedFormFieldsMixin, SimpleHistoryAdmin):
    """A ModelAdmin whose objects belong to a dealer through `dealer_field`.

    For a model with audit history (django-simple-history), the object's
    History page lists every recorded change with who, when and what changed,
    scoped like everything else: another dealer's history is not found, even
    for a deleted object. Past versions can be viewed, never restored.
    """

    dealer_field: str = "dealer"
    show_full_result_count = False  # one COUNT per changelist page, not two
    # Audited objects edited on this object's page (inlines), shown on its History
    # page too: [(model, name of its foreign key to this model)].
    related_history: list = []
    related_history_limit = 200
    object_history_template = "admin/leadhub_object_history.html"

    def _has_audit_history(self) -> bool:
        return hasattr(self.model._meta, "simple_history_manager_attribute")

    def history_view(self, request, object_id, extra_context=None):
        if not self._has_audit_history():
            return admin.ModelAdmin.history_view(
                self, request, object_id, {"history_base": "admin/object_history.html", **(extra_context or {})})
        # Computed for this object id only; super() answers 404 first when the
        # object's history is out of the user's scope, and nothing is rendered.
        context = {"history_base": "simple_history/object_history.html",
                   "related_history": self._related_history(object_id), **(extra_context or {})}
        return super().history_view(request, object_id, context)

    def _related_history(self, object_id) -> list:
        sections = []
        for model, fk_name in self.related_history:
            rows = list(model.history.filter(**{f"{fk_name}_id": object_id}).select_related("history_user")
                        .order_by("-history_date", "-history_id")[:self.related_history_limit])
            previous = {}
            for row in reversed(rows):  # oldest first: each row against that object's previous row
                before = previous.get(row.id)
                row.changes = [(c.field, c.old, c.new) for c in row.diff_against(before).changes] if before else []
                previous[row.id] = row
            sections.append((model._meta.verbose_name_plural, rows))
        return sections

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        # simple-history falls back to the history rows when the object is not in
        # get_queryset() (a deleted object): those rows are scoped by dealer too.
        queryset = super().get_history_queryset(request, history_manager, pk_name, object_id)
        path = self.model._meta.pk.attname if self.dealer_field == "pk" else self.dealer_field
        return scope_queryset(queryset, request.user, path)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if not self._has_audit_history():
            raise Http404
        if request.method != "GET":  # simple-history would save a posted old version
            return HttpResponseNotAllowed(["GET"])
        manager = getattr(self.model, self.model._meta.simple_history_manager_attribute)
        pk_name = self.model._meta.pk.attname
        if not self.get_history_queryset(request, manager, pk_name, object_id).filter(history_id=version_id).exists():
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, self.dealer_field)

    def _allowed_on(self, request, obj, action: str) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        dealer_id = dealer_id_of(obj, self.dealer_field)
        if dealer_id is None:  # an object being added: the form limits the dealer
            return action in ("add", "change")
        return _perm(self.model, action) in permissions_for_role(role_at(request.user, dealer_id))

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and (
            self._allowed_on(request, obj, "view") or self._allowed_on(request, obj, "change"))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._allowed_on(request, obj, "change")

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._allowed_on(request, obj, "delete")

    def save_model(self, request, obj, form, change):
        # Defence in depth behind the scoped form choices: never write an object
        # into a dealer the user may not manage.
        dealer_id = dealer_id_of(obj, self.dealer_field)
        allowed = dealers_with_perm(request.user, _perm(self.model, "change" if change else "add"))
        if allowed is not None and dealer_id not in allowed:
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    def get_list_filter(self, request):
        # A plain foreign key name in list_filter would list every dealer's rows.
        return [_scoped_filter(self.model, spec) for spec in super().get_list_filter(request)]


class ReadOnlyAdminMixin:
    """For records written only by LeadHub itself (status log, sync runs, stored
    vendor pages, sync health): viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DealerScopedInline(_ScopedFormFieldsMixin, admin.TabularInline):
    """An inline whose permissions follow the parent object's dealer."""

    parent_dealer_field: str = "dealer"

    def _allowed_on_parent(self, request, obj, action):
        if obj is None or request.user.is_superuser:
            return True
        role = role_at(request.user, dealer_id_of(obj, self.parent_dealer_field))
        return _perm(self.model, action) in permissions_for_role(role)

    def has_add_permission(self, request, obj):
        return super().has_add_permission(request, obj) and self._allowed_on_parent(request, obj, "add")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._allowed_on_parent(request, obj, "change")

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._allowed_on_parent(request, obj, "delete")

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._allowed_on_parent(request, obj, "view")


class ScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-field filter that lists only the user's dealers' objects."""

    def field_choices(self, field, request, model_admin):
        model = field.related_model
        queryset = model._default_manager.all()
        queryset = model_admin._scope_related_queryset(request, model, queryset, "view")
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in queryset]


def _scoped_filter(model, spec):
    if isinstance(spec, str) and "__" not in spec:
        field = model._meta.get_field(spec)
        if field.is_relation and field.many_to_one:
            return (spec, ScopedRelatedFilter)
    return spec
