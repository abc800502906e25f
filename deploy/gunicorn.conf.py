"""gunicorn settings for LeadHub's web process (docs/deployment.md).

Environment: GUNICORN_BIND (default 127.0.0.1:8000), GUNICORN_WORKERS (default
2 x cores + 1), GUNICORN_THREADS (default 4)."""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# A CSV export streams for a while; anything slower is stuck.
timeout = 120
graceful_timeout = 30
# Replace workers now and then (memory of big exports is returned to the OS).
max_requests = 2000
max_requests_jitter = 200
# Logs to stderr like the app's own; the client address is the proxy's unless the
# proxy is trusted (Django decides that, see LEADHUB_TRUSTED_PROXIES).
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
