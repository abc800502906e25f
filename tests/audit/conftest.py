"""The Cat sandbox fixtures, for audit rows written by a real sync."""
from tests.vendors.cat.conftest import cat_account, cat_mapped, fast_retries, sandbox  # noqa: F401
