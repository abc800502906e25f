"""/api/v1/: the API, its OpenAPI schema and its interactive docs (docs/api.md)."""
from django.urls import include, path, re_path, register_converter
from django.views.decorators.cache import cache_page
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from .views import LeadViewSet, ReasonViewSet, StageViewSet, not_found

# The schema is built from every view and serializer (a quarter second and more),
# and it changes only with a deploy: each variant (YAML, ?format=json) is kept in
# the cache for this long rather than rebuilt for every request.
SCHEMA_CACHE_SECONDS = 15 * 60


class Router(DefaultRouter):
    include_root_view = False  # the docs page is the API's index
    include_format_suffixes = False  # JSON only: no `.json` twin of every URL




class IdConverter:
    """An object's id in a path: digits only, at most 18 (below a bigint's
    largest), so anything else, a longer number included, is the API's 404 below
    rather than a 500 from a lookup the database cannot take. The schema says
    integer (SPECTACULAR_SETTINGS' PATH_CONVERTER_OVERRIDES)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "api_id")

# Django path converters rather than regexes: a lead id is `<api_id:pk>`.
router = Router(use_regex_path=False)
router.register("leads", LeadViewSet, basename="lead")
router.register("reasons", ReasonViewSet, basename="reason")
router.register("stages", StageViewSet, basename="stage")

app_name = "api"
urlpatterns = [
    path("schema/", cache_page(SCHEMA_CACHE_SECONDS, key_prefix="api-schema")(SpectacularAPIView.as_view()),
         name="schema"),
    # The split view serves its start-up script as a file of its own (?script): no
    # inline script, so the page works under the site's CSP unchanged.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html"),
         name="docs"),
    path("", include(router.urls)),
    # Last: any other path under /api/v1/ ending in a slash (a mistyped endpoint, a
    # lead id that is no number) is the API's JSON 404. A path without the slash is
    # sent to the one with it first (APPEND_SLASH), as before.
    re_path(r"^(?:.*/)?$", not_found),
]
