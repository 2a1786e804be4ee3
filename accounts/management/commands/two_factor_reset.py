from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.two_factor import two_factor_disable, two_factor_required
from outcomeportal.core import formatting


class Command(BaseCommand):
    help = (
        "Remove a user's authenticator (lost phone): they sign in with the password alone, or — staff who "
        "must use two-factor sign-in — set up a new authenticator at their next sign-in."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        removed = two_factor_disable(user=user)
        if two_factor_required(user=user):
            then = "sets up a new one at the next sign-in"
        else:
            then = "signs in with the password alone"
        self.stdout.write(f"Removed {formatting.plural(removed, 'authenticator')} of {username}; {username} {then}.")
