import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Role
from tests import factories


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Render pages without a collected static manifest (production uses the hashed manifest)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: what a page kept (filter choices) never carries over."""
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hashing a password the production way takes ~0.3 s; tests need no protection from brute force."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def outcome_type(db):
    return factories.make_outcome_type()


@pytest.fixture
def account_a(db):
    return factories.make_account("acme", name="Acme Support")


@pytest.fixture
def account_b(db):
    return factories.make_account("globex", name="Globex")


@pytest.fixture
def vendor_client(db):
    return Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")


def key_client(account, role=Role.CUSTOMER_ADMIN) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {factories.account_key(account, role)}")


@pytest.fixture
def admin_a_client(account_a):
    return key_client(account_a, Role.CUSTOMER_ADMIN)


@pytest.fixture
def viewer_a_client(account_a):
    return key_client(account_a, Role.VIEWER)


@pytest.fixture
def admin_b_client(account_b):
    return key_client(account_b, Role.CUSTOMER_ADMIN)


@pytest.fixture
def signing_key(settings) -> tuple[str, str, str]:
    """Decision certificates signed with a fresh key (DECISION_SIGNING_KEY), none retired:
    (base64 private key, kid, base64 public key)."""
    key = factories.signing_key_new()
    settings.DECISION_SIGNING_KEY, settings.DECISION_SIGNING_KEY_FILE = key[0], ""
    settings.DECISION_SIGNING_RETIRED_KEYS = []
    return key
