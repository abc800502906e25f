import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadhub.settings")
# A web process: short database lock waits (leadhub/settings.py, LEADHUB_DB_WAIT_WEB).
os.environ.setdefault("LEADHUB_PROCESS", "web")
application = get_asgi_application()
