import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from outcomeportal import signing


class Command(BaseCommand):
    help = (
        "Make a new Ed25519 key pair for signing decision certificates and print the settings that make "
        "it the active key while the current one stays listed as retired (docs/security.md)."
    )
    # Runs before the key it configures exists: the check that loads the configured key would stop it.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--out",
            metavar="PATH",
            help="Write the private key to this PEM file (mode 600; never overwritten) and print "
            "DECISION_SIGNING_KEY_FILE; without it, print the key itself as DECISION_SIGNING_KEY.",
        )

    def handle(self, *args, out=None, **options):
        private = Ed25519PrivateKey.generate()
        kid = signing.key_id(signing.public_raw(private))
        if out:
            try:
                fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                raise CommandError(f"{out} exists already; it is never overwritten (move it away first).")
            except OSError as exc:
                raise CommandError(f"Cannot create {out}: {exc.strerror}.")
            with os.fdopen(fd, "wb") as file:
                file.write(signing.private_pem(private))
            active = f"DECISION_SIGNING_KEY_FILE={out}"
        else:
            active = f"DECISION_SIGNING_KEY={signing.private_raw_b64(private)}"
        try:
            current = signing.key_ring().public_keys
        except ImproperlyConfigured as exc:
            current = []
            self.stderr.write(f"The configured keys do not load ({exc}); nothing to retire.")
        retired = ",".join(f"{k.kid}:{k.as_dict()['public_key']}" for k in current)
        self.stderr.write(
            f"New Ed25519 signing key {kid}"
            + (f", private key written to {out}" if out else "")
            + ". Set these in the environment of the web processes and restart them; keep every key in "
            "DECISION_SIGNING_RETIRED_KEYS for as long as what it signed should verify. Unset the other "
            "of DECISION_SIGNING_KEY / DECISION_SIGNING_KEY_FILE."
        )
        self.stdout.write(active)
        if retired:
            self.stdout.write(f"DECISION_SIGNING_RETIRED_KEYS={retired}")
