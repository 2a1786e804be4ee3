"""The keys that sign decision certificates (outcomeportal.signing): where the active one comes from,
the retired ones still listed, the public list at /.well-known/outcomeportal-keys.json, and the
command that makes a new pair and prints what to set.
"""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client

from accounts.checks import decision_signing_key_set, decision_signing_keys_load
from outcomeportal import signing, verify


def test_the_public_keys_are_public_and_shaped_as_documented(db, signing_key):
    response = Client().get("/.well-known/outcomeportal-keys.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=300"
    _, kid, public = signing_key
    assert response.json() == {"keys": [{"kid": kid, "alg": "Ed25519", "public_key": public, "active": True}]}
    assert len(base64.b64decode(public)) == 32
    assert verify.key_id(base64.b64decode(public)) == kid


def test_without_a_configured_key_one_is_generated_once_into_the_data_folder(settings, tmp_path):
    settings.DECISION_SIGNING_KEY, settings.DECISION_SIGNING_KEY_FILE, settings.DATA_DIR = "", "", tmp_path
    first = signing.key_ring()
    path = tmp_path / signing.GENERATED_KEY_NAME

    assert path.stat().st_mode & 0o777 == 0o600
    signing._key_ring.cache_clear()
    assert signing.key_ring().kid == first.kid  # read back, not made again
    assert [p.name for p in tmp_path.iterdir()] == [signing.GENERATED_KEY_NAME]


def test_a_pem_key_file_is_read(settings, tmp_path):
    private = Ed25519PrivateKey.generate()
    (tmp_path / "key.pem").write_bytes(signing.private_pem(private))
    settings.DECISION_SIGNING_KEY, settings.DECISION_SIGNING_KEY_FILE = "", str(tmp_path / "key.pem")
    assert signing.key_ring().kid == verify.key_id(signing.public_raw(private))


@pytest.mark.parametrize(
    "key, key_file, retired, message",
    [
        ("bm90IGEga2V5", "", [], "DECISION_SIGNING_KEY must be an Ed25519 private key"),
        ("", "/nonexistent/key.pem", [], "DECISION_SIGNING_KEY_FILE: cannot read /nonexistent/key.pem"),
        ("", "", ["abc:bm90IGEga2V5"], "DECISION_SIGNING_RETIRED_KEYS: 'abc:bm90IGEga2V5' is not kid:"),
        ("", "", ["0000000000000000:" + "A" * 43 + "="], "DECISION_SIGNING_RETIRED_KEYS: the key"),
        ("AAAA", "/some/key.pem", [], "Set DECISION_SIGNING_KEY or DECISION_SIGNING_KEY_FILE, not both."),
    ],
)
def test_keys_that_do_not_load_stop_start_up_with_a_message(settings, tmp_path, key, key_file, retired, message):
    settings.DATA_DIR = tmp_path
    settings.DECISION_SIGNING_KEY, settings.DECISION_SIGNING_KEY_FILE = key, key_file
    settings.DECISION_SIGNING_RETIRED_KEYS = retired
    with pytest.raises(ImproperlyConfigured, match="^" + re.escape(message)):
        signing.key_ring()


def test_create_signing_key_prints_the_new_key_and_retires_the_current_one(settings, tmp_path, signing_key):
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        call_command("create_signing_key", "--out", str(tmp_path / "new.pem"), stdout=stdout, stderr=stderr)
    lines = out.read_text().splitlines()

    assert lines[0] == f"DECISION_SIGNING_KEY_FILE={tmp_path / 'new.pem'}"
    assert lines[1] == f"DECISION_SIGNING_RETIRED_KEYS={signing_key[1]}:{signing_key[2]}"
    assert (tmp_path / "new.pem").stat().st_mode & 0o777 == 0o600
    settings.DECISION_SIGNING_KEY, settings.DECISION_SIGNING_KEY_FILE = "", str(tmp_path / "new.pem")
    settings.DECISION_SIGNING_RETIRED_KEYS = lines[1].partition("=")[2].split(",")
    ring = signing.key_ring()
    assert err.read_text().startswith(f"New Ed25519 signing key {ring.kid}, private key written to")
    assert [(k.kid, k.active) for k in ring.public_keys] == [(ring.kid, True), (signing_key[1], False)]


def test_the_active_key_may_not_be_listed_as_retired(settings, signing_key):
    _, kid, public = signing_key
    settings.DECISION_SIGNING_RETIRED_KEYS = [f"{kid}:{public}"]
    with pytest.raises(ImproperlyConfigured, match=f"lists the active key {kid} as retired"):
        signing.key_ring()


def test_start_up_is_refused_while_the_keys_do_not_load(settings, signing_key):
    assert decision_signing_keys_load(None) == []
    settings.DECISION_SIGNING_KEY_FILE = "/nonexistent/key.pem"

    (error,) = decision_signing_keys_load(None)

    assert (error.id, error.msg) == (
        "outcomeportal.E006",
        "Set DECISION_SIGNING_KEY or DECISION_SIGNING_KEY_FILE, not both.",
    )


def test_the_deploy_check_asks_for_a_key_of_the_operators_own(settings, signing_key):
    assert decision_signing_key_set(None) == []
    settings.DECISION_SIGNING_KEY = ""
    assert [w.id for w in decision_signing_key_set(None)] == ["outcomeportal.W001"]
