"""Settings for the test suite: the real settings, plus what makes tests fast and quiet.

The database comes from DATABASE_URL like everywhere else, so the same suite runs
on SQLite and, under `make test`, on a throwaway PostgreSQL cluster.
"""
import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from .settings import *  # noqa: E402,F403

# The webhook tests' receivers listen on 127.0.0.1.
LEADHUB_WEBHOOK_ALLOW_LOOPBACK = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
