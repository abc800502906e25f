"""The Cat sandbox fixtures, for tests that follow a credential through a real sync."""
from tests.vendors.cat.conftest import cat_account, cat_mapped, fast_retries, sandbox  # noqa: F401
