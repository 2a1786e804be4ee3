from django.core.management.base import BaseCommand, CommandError

from accounts.models import CUSTOMER_ROLES, Account
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key and print it, alone, on the last line (it is not stored in clear)."

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--vendor", action="store_true", help="A vendor key (all accounts).")
        scope.add_argument("--account", metavar="EXTERNAL_ID", help="An account key for this account.")
        parser.add_argument("--role", choices=[str(r) for r in CUSTOMER_ROLES], help="The account key's role.")
        parser.add_argument("--name", default="", help="What the key is for.")

    def handle(self, *args, vendor, account, role, name, **options):
        target = None
        if account:
            if not role:
                raise CommandError("--account needs --role (customer_admin, finance_admin or viewer).")
            target = Account.objects.filter(external_id=account).first()
            if target is None:
                raise CommandError(f"No account with external_id {account!r}.")
        elif role:
            raise CommandError("--role is for account keys only.")
        created = api_key_create(
            name=name or ("vendor key" if vendor else f"{role} key"), account=target, role=role or ""
        )
        self.stderr.write(f"Created {created.api_key.scope} key {created.api_key.prefix}… ({created.api_key.name}).")
        self.stdout.write(created.secret)
