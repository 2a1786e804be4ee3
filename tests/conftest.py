import pytest
from django.test import Client

from accounts.models import Role
from tests import factories


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
