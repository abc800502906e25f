"""The OpenAPI schema is valid OpenAPI 3 and names every endpoint; the docs page
is served from static files under the site's CSP, with no inline script."""
from __future__ import annotations

import re

import yaml
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

from tests.security.test_csp import EVENT_HANDLER, INLINE_SCRIPT, STYLE_ATTRIBUTE, policy


def _schema(client):
    response = client.get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_it_serves_a_valid_openapi_3_schema(client, db):
    schema = _schema(client)
    validate(schema)  # raises on any departure from the OpenAPI 3 specification
    assert schema["openapi"].startswith("3.")


def test_it_names_every_endpoint_and_the_bearer_key_in_the_schema(client, db):
    schema = _schema(client)
    assert set(schema["paths"]) == {
        "/api/v1/leads/", "/api/v1/leads/{id}/", "/api/v1/leads/{id}/status/", "/api/v1/leads/{id}/followups/",
        "/api/v1/leads/{id}/followups/{followup_id}/complete/", "/api/v1/leads/{id}/notes/",
        "/api/v1/reasons/", "/api/v1/stages/"}
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "lh_<prefix>_<secret>",
        "description": "A dealer's API key, created by a dealer admin (docs/api.md)."}
    listing = schema["paths"]["/api/v1/leads/"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "vendor", "owner", "updated_since", "cursor",
                                                          "page_size"}
    assert "400" in schema["paths"]["/api/v1/leads/{id}/status/"]["post"]["responses"]
    lead_id = next(p for p in schema["paths"]["/api/v1/leads/{id}/"]["get"]["parameters"] if p["name"] == "id")
    assert lead_id["schema"]["type"] == "integer"  # lookup_value_regex: an id is a number
    page = schema["components"]["schemas"]["PaginatedLeadListList"]
    assert {"next", "cursor", "results"} <= set(page["required"])


def test_it_serves_the_same_document_as_yaml(client, db):
    response = client.get(reverse("api:schema"))
    assert yaml.safe_load(response.content) == _schema(client)


def test_it_serves_the_docs_page_without_inline_script_nor_style_under_the_policy(client, db):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    body = response.content.decode()
    for rule in (INLINE_SCRIPT, EVENT_HANDLER, STYLE_ATTRIBUTE):
        assert not rule.search(body), rule.search(body).group(0)
    assert "<style" not in body
    directives = policy(response)
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    # Every script and stylesheet is this site's own (drf-spectacular-sidecar's copy): no CDN.
    sources = re.findall(r'(?:src|href)="([^"]+)"', body)
    assert sources and all(src.startswith("/") for src in sources), sources
    for src in sources:
        if src.startswith("/static/"):
            assert finders.find(src.removeprefix("/static/")), src


def test_it_serves_the_docs_start_up_script_as_a_file_of_its_own(client, db):
    body = client.get(reverse("api:docs")).content.decode()
    script_url = re.search(r'<script src="([^"]*script[^"]*)"', body).group(1).replace("&amp;", "&")
    response = client.get(script_url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in response.content.decode()


def test_it_builds_the_schema_once_and_serves_it_from_the_cache(client, db, monkeypatch):
    built = []
    original = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        built.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)
    cache.clear()
    first, second = _schema(client), _schema(client)
    assert first == second and len(built) == 1
