from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "apps.api"
    label = "api"
    verbose_name = "API"
    # Dealer admins keep their dealer's API keys: create, rename, revoke (a change),
    # never delete (a revoked key stays, with its history). apps.accounts.roles collects this.
    role_permissions = {"admin": ("api.view_apikey", "api.add_apikey", "api.change_apikey")}
