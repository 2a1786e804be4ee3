"""Two-factor sign-in: a time-based one-time code (TOTP, RFC 6238) from an authenticator app.

Vendor staff (the vendor roles, and anyone with access to the Django admin) must use it when
``OTP_REQUIRED_FOR_STAFF`` is on (the default); customers may turn it on for themselves. The
devices are django-otp's ``TOTPDevice`` rows: one confirmed device per user.

Enrolment keeps the new secret in the caller's hands (the session) until a code made from it is
typed back; only then is a device stored — confirmed, with that code's time step used up so the
same code cannot sign in again. Verification locks the device row, so two requests with the
same code cannot both pass (django-otp's ``verify_token`` reads ``last_t`` and then saves it).
"""

from __future__ import annotations

import base64
import io
import time
from binascii import unhexlify

from django.conf import settings
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image
from django_otp.util import random_hex

from accounts.models import VENDOR_ROLES, User

DEVICE_NAME = "Authenticator app"
CODE_DIGITS = 6


def two_factor_required(*, user: User) -> bool:
    """Whether ``user`` may not sign in without a second factor, enrolled or not."""
    staff = user.role in VENDOR_ROLES or user.is_staff or user.is_superuser
    return bool(settings.OTP_REQUIRED_FOR_STAFF and staff)


def totp_device_of(*, user: User) -> TOTPDevice | None:
    """The user's confirmed device, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def totp_new_key() -> str:
    """A fresh secret (hex, 160 bits) for an enrolment."""
    return random_hex(20)


def totp_secret_text(key: str) -> str:
    """The secret as an authenticator app asks it to be typed: base32, in groups of four."""
    b32 = base64.b32encode(unhexlify(key)).decode().rstrip("=")
    return " ".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def totp_config_url(*, user: User, key: str) -> str:
    """The ``otpauth://`` URI of a secret (what the QR code holds), with the issuer of OTP_TOTP_ISSUER."""
    return TOTPDevice(user=user, key=key).config_url  # an unsaved device, for its URI format only


def totp_qr_data_uri(url: str) -> str:
    """A QR code of ``url`` as an SVG ``data:`` URI (made here: nothing is fetched)."""
    out = io.BytesIO()
    write_qrcode_image(url, out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def _clean(code: str) -> int | None:
    digits = "".join(code.split())
    return int(digits) if len(digits) == CODE_DIGITS and digits.isascii() and digits.isdigit() else None


def totp_enrol(*, user: User, key: str, code: str, now: float | None = None) -> TOTPDevice | None:
    """Store ``key`` as the user's device if ``code`` was made from it (replacing any other device)."""
    token = _clean(code)
    if token is None or len(key) != 40:  # no secret in the session: nothing to confirm
        return None
    totp = TOTP(unhexlify(key), digits=CODE_DIGITS)
    totp.time = time.time() if now is None else now
    if not totp.verify(token, tolerance=1):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        return TOTPDevice.objects.create(
            user=user, name=DEVICE_NAME, key=key, digits=CODE_DIGITS, confirmed=True, last_t=totp.t()
        )


def totp_verify(*, user: User, code: str) -> TOTPDevice | None:
    """The user's device if ``code`` is its current code, not used before; else ``None``.

    A wrong code also counts in django-otp's own throttle on the device (growing delays).
    """
    token = _clean(code)
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()
        if device is None or token is None:
            return None
        return device if device.verify_token(token) else None


def two_factor_disable(*, user: User) -> int:
    """Remove the user's devices; returns how many."""
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    return deleted
