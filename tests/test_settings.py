"""Configuration: the embedded default works with nothing set, and production
settings pass Django's deploy checks."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEADHUB_VARIABLES = {"SECRET_KEY", "LEADHUB_CREDENTIALS_KEYS", "DEBUG", "SECURE_SSL_REDIRECT", "ALLOWED_HOSTS",
                     "Q_REDIS_URL", "EMAIL_URL", "DATABASE_URL", "SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD",
                     "DJANGO_ALLOW_ASYNC_UNSAFE"}
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 20 + "production-secret-key-with-enough-entropy-0123456789abcdef",
    "LEADHUB_CREDENTIALS_KEYS": "1cI7D-sYHuTgJ-ZkKCqGk5sPpTtr4PBLTUxgMCoWEZ4=",
    "ALLOWED_HOSTS": "leads.example.com",
    "EMAIL_URL": "smtp://mail.example.com:587",
}


def manage(*args, env_extra=None, tmp_path):
    # Start from a clean slate: no LeadHub variable of the test process leaks in.
    env = {k: v for k, v in os.environ.items() if k not in LEADHUB_VARIABLES}
    env.update({"DJANGO_SETTINGS_MODULE": "leadhub.settings", "LEADHUB_VAR_DIR": str(tmp_path),
                "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", **(env_extra or {})})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_the_production_variables(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env_extra=PRODUCTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_keys_are_not_from_the_environment(tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k not in ("SECRET_KEY", "LEADHUB_CREDENTIALS_KEYS")}
    result = manage("check", "--deploy", env_extra=env, tmp_path=tmp_path)
    assert "leadhub.W001" in result.stderr and "leadhub.W002" in result.stderr


def test_a_fresh_machine_generates_its_keys_into_var_and_keeps_them(tmp_path):
    first = manage("check", tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    secret = (tmp_path / "secret_key").read_text()
    assert len(secret) > 50 and oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    manage("check", tmp_path=tmp_path)
    assert (tmp_path / "secret_key").read_text() == secret
    assert (tmp_path / "credentials_key").exists()


def test_a_malformed_credentials_key_is_a_clear_check_error(tmp_path):
    result = manage("check", env_extra={"LEADHUB_CREDENTIALS_KEYS": "not-a-key"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "leadhub.E001" in result.stderr and "Fernet keys" in result.stderr


def test_redis_broker_is_used_when_q_redis_url_is_set(tmp_path):
    code = "from django.conf import settings; print(settings.Q_CLUSTER.get('redis'), settings.Q_CLUSTER.get('orm'))"
    result = manage("shell", "--no-imports", "-c", code, env_extra={"Q_REDIS_URL": "redis://127.0.0.1:6379/3"}, tmp_path=tmp_path)
    assert result.stdout.strip() == "redis://127.0.0.1:6379/3 None", result.stderr
    result = manage("shell", "--no-imports", "-c", code, tmp_path=tmp_path)
    assert result.stdout.strip() == "None default"


def test_a_short_q_timeout_shortens_the_webhook_run_budget_to_fit(tmp_path):
    """A worker given Q_TIMEOUT=120 (the scale-out test's) passes its own checks: the
    webhook sender's run budget defaults to what fits, instead of refusing to start."""
    result = manage("check", env_extra={**PRODUCTION, "Q_TIMEOUT": "120", "Q_RETRY": "150"}, tmp_path=tmp_path)
    assert result.returncode == 0 and "leadhub.E004" not in result.stderr, result.stdout + result.stderr
    forced = manage("check", env_extra={**PRODUCTION, "Q_TIMEOUT": "120", "Q_RETRY": "150",
                                        "LEADHUB_WEBHOOK_RUN_SECONDS": "120"}, tmp_path=tmp_path)
    assert forced.returncode != 0 and "leadhub.E004" in forced.stderr
