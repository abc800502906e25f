"""The client's IP address, for login lockout (django-axes) and logs.

Behind N reverse proxies that each append the address they saw to
X-Forwarded-For (nginx `proxy_add_x_forwarded_for`, most load balancers), the
client is the Nth address from the right: everything to its left was sent by
the client itself and can be forged. With no trusted proxy (the default) the
header is ignored and REMOTE_ADDR is the client. Settings:
LEADHUB_TRUSTED_PROXIES (N) and LEADHUB_FORWARDED_FOR_HEADER.
"""
from __future__ import annotations

from ipaddress import ip_address

from django.conf import settings


def client_ip(request) -> str | None:
    """The address of the client as the outermost trusted proxy saw it.

    Returns REMOTE_ADDR when no proxy is trusted, and also when the header holds
    fewer addresses than trusted proxies (a request that bypassed a proxy) or an
    entry that is not an IP address.
    """
    remote = request.META.get("REMOTE_ADDR")
    count = settings.LEADHUB_TRUSTED_PROXIES
    if count <= 0:
        return remote
    header = "HTTP_" + settings.LEADHUB_FORWARDED_FOR_HEADER.upper().replace("-", "_")
    hops = [part.strip() for part in request.META.get(header, "").split(",") if part.strip()]
    if len(hops) < count:
        return remote
    candidate = hops[-count]
    try:
        return str(ip_address(candidate))
    except ValueError:
        return remote
