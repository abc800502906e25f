"""The in-app notification list (everyone sees only their own), opening one (it is
read, and its lead opens), marking all read, and each person's e-mail preferences."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from .models import Notification, NotificationPreference


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["assigned", "alerts"]
        widgets = {"assigned": forms.RadioSelect, "alerts": forms.RadioSelect}


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", "Unread"), ("yes", "Read")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "message", "kind", "is_read"]
    list_display_links = None
    list_filter = [ReadFilter, "kind"]
    list_per_page = 50
    actions = ["mark_read"]

    # Everyone with a login reads their own notifications, nobody else's.
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or obj.user_id == request.user.pk)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user=request.user)

    @admin.display(description="notification")
    def message(self, obj):
        url = reverse("admin:notifications_notification_open", args=[obj.pk])
        return format_html("<a href='{}' class='{}'>{}</a>", url, "read" if obj.read_at else "unread", obj.text)

    @admin.display(description="read", boolean=True)
    def is_read(self, obj):
        return obj.read_at is not None

    @admin.action(description="Mark the selected notifications read")
    def mark_read(self, request, queryset):
        count = queryset.filter(read_at__isnull=True).update(read_at=timezone.now())
        messages.success(request, f"{count} notification(s) marked read.")

    def changelist_view(self, request, extra_context=None):
        extra = {"title": "My notifications", "preferences_url": reverse("admin:notifications_notification_preferences"),
                 "read_all_url": reverse("admin:notifications_notification_read_all")}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def get_urls(self):
        return [
            path("<int:pk>/open/", self.admin_site.admin_view(self.open_view), name="notifications_notification_open"),
            path("read-all/", self.admin_site.admin_view(self.read_all_view), name="notifications_notification_read_all"),
            path("preferences/", self.admin_site.admin_view(self.preferences_view), name="notifications_notification_preferences"),
        ] + super().get_urls()

    def open_view(self, request, pk):
        """Read it, and go to its lead (or back to the list)."""
        note = get_object_or_404(Notification, pk=pk, user=request.user)
        if note.read_at is None:
            Notification.objects.filter(pk=note.pk).update(read_at=timezone.now())
        if note.lead_id:
            return HttpResponseRedirect(reverse("admin:leads_lead_workbench", args=[note.lead_id]))
        return HttpResponseRedirect(reverse("admin:notifications_notification_changelist"))

    def read_all_view(self, request):
        if request.method != "POST":  # only the list's button changes anything
            return HttpResponseRedirect(reverse("admin:notifications_notification_changelist"))
        count = Notification.objects.filter(user=request.user, read_at__isnull=True).update(read_at=timezone.now())
        messages.success(request, f"{count} notification(s) marked read.")
        return HttpResponseRedirect(reverse("admin:notifications_notification_changelist"))

    def preferences_view(self, request):
        if not self.has_module_permission(request):
            raise Http404
        preference, _ = NotificationPreference.objects.get_or_create(user=request.user)
        form = PreferenceForm(request.POST or None, instance=preference)
        if request.method == "POST" and form.is_valid():
            form.save()
            messages.success(request, "Your notification settings are saved.")
            return HttpResponseRedirect(reverse("admin:notifications_notification_changelist"))
        context = {**self.admin_site.each_context(request), "title": "What LeadHub e-mails me", "form": form,
                   "opts": self.opts, "list_url": reverse("admin:notifications_notification_changelist")}
        return TemplateResponse(request, "admin/notifications/preferences.html", context)
