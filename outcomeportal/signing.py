"""The portal's Ed25519 keys for signing decision certificates, and the public list of them.

One active private key signs; the public keys of retired ones stay listed (``active: false``) so
certificates they signed still verify. Where the active key comes from (docs/security.md
"Signed decisions", docs/configuration.md):

* ``DECISION_SIGNING_KEY_FILE`` — a PEM file (PKCS#8) holding an Ed25519 private key; or
* ``DECISION_SIGNING_KEY`` — the private key's raw 32 bytes in base64;
* neither — a key generated once into ``$OUTCOMEPORTAL_DATA_DIR/decision_signing_key.pem`` (mode
  0600), as the secret key is: for development and tests, or a single machine.

``DECISION_SIGNING_RETIRED_KEYS`` lists retired public keys as ``kid:base64`` entries, comma-separated.
``manage.py create_signing_key`` makes a new pair and prints what to set. The signed bytes, the
``kid`` and the verification are :mod:`outcomeportal.verify`'s, the stand-alone verifier's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from outcomeportal.verify import ALG, canonical, key_id, sha256_hex

GENERATED_KEY_NAME = "decision_signing_key.pem"
__all__ = ["ALG", "KeyRing", "PublicKey", "key_id", "key_ring", "public_keys_document", "sha256_hex", "sign"]


@dataclass(frozen=True)
class PublicKey:
    kid: str
    raw: bytes  # the 32 bytes
    active: bool

    def as_dict(self) -> dict:
        return {"kid": self.kid, "alg": ALG, "public_key": base64.b64encode(self.raw).decode(), "active": self.active}


@dataclass(frozen=True)
class KeyRing:
    private: Ed25519PrivateKey
    kid: str
    retired: tuple[PublicKey, ...]

    @property
    def public_keys(self) -> list[PublicKey]:
        return [PublicKey(self.kid, public_raw(self.private), True), *self.retired]


def public_raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_raw_b64(private: Ed25519PrivateKey) -> str:
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


def private_pem(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def key_ring() -> KeyRing:
    """The keys as the settings say (read once per distinct setting)."""
    return _key_ring(
        settings.DECISION_SIGNING_KEY,
        settings.DECISION_SIGNING_KEY_FILE,
        tuple(settings.DECISION_SIGNING_RETIRED_KEYS),
        str(settings.DATA_DIR),
    )


@lru_cache(maxsize=8)
def _key_ring(key_b64: str, key_file: str, retired: tuple[str, ...], data_dir: str) -> KeyRing:
    if key_b64 and key_file:
        raise ImproperlyConfigured("Set DECISION_SIGNING_KEY or DECISION_SIGNING_KEY_FILE, not both.")
    if key_b64:
        private = _from_b64(key_b64)
    elif key_file:
        private = _from_pem_file(Path(key_file), name="DECISION_SIGNING_KEY_FILE")
    else:
        private = _from_pem_file(_generated_once(Path(data_dir) / GENERATED_KEY_NAME), name="the generated key")
    kid = key_id(public_raw(private))
    retired_keys = tuple(_retired(entry) for entry in retired)
    if kid in {k.kid for k in retired_keys}:
        raise ImproperlyConfigured(f"DECISION_SIGNING_RETIRED_KEYS lists the active key {kid} as retired.")
    return KeyRing(private=private, kid=kid, retired=retired_keys)


def _from_b64(value: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(
            "DECISION_SIGNING_KEY must be an Ed25519 private key's 32 raw bytes in base64 "
            "(python manage.py create_signing_key prints one)."
        ) from exc


def _from_pem_file(path: Path, *, name: str) -> Ed25519PrivateKey:
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}: cannot read {path}: {exc.strerror}.") from exc
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name}: {path} is not an unencrypted PEM private key.") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{name}: {path} holds a {type(private).__name__}, not an Ed25519 key.")
    return private


def _generated_once(path: Path) -> Path:
    """The development key: made on first use and kept. Several processes starting at once agree on
    one — each writes its own to a temporary file and links it into place only if none is there."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(private_pem(Ed25519PrivateKey.generate()))
        os.chmod(temp, 0o600)
        with contextlib.suppress(FileExistsError):  # another process was first: its key is the one
            os.link(temp, path)
    finally:
        os.unlink(temp)
    return path


def _retired(entry: str) -> PublicKey:
    kid, _, b64 = entry.partition(":")
    try:
        raw = base64.b64decode(b64.strip(), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise ImproperlyConfigured(
            f"DECISION_SIGNING_RETIRED_KEYS: {entry!r} is not kid:<base64 of a 32-byte Ed25519 public key>."
        )
    if kid.strip() != key_id(raw):
        raise ImproperlyConfigured(
            f"DECISION_SIGNING_RETIRED_KEYS: the key {b64.strip()} has kid {key_id(raw)}, not {kid.strip()!r}."
        )
    return PublicKey(kid.strip(), raw, False)


def sign(payload: dict) -> dict:
    """The certificate: the payload and the active key's signature over its canonical JSON."""
    ring = key_ring()
    signature = ring.private.sign(canonical(payload))
    return {"payload": payload, "kid": ring.kid, "alg": ALG, "signature": base64.b64encode(signature).decode()}


def public_keys_document() -> dict:
    """``/.well-known/outcomeportal-keys.json``: every key a certificate may name, the active one first."""
    return {"keys": [k.as_dict() for k in key_ring().public_keys]}
