from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from apps.sync import ops

admin.site.site_header = "LeadHub"
admin.site.site_title = "LeadHub"
admin.site.index_title = "Leads, follow-ups and vendor sync"

# A busy database raised outside a view is the 503 "try again" page too.
handler500 = "apps.core.middleware.server_error"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    # The REST API for dealers' systems (apps/api, docs/api.md).
    path("api/v1/", include("apps.api.urls")),
    # For load balancers and monitoring (apps/sync/ops.py, docs/deployment.md).
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics, name="metrics"),
]
