"""``GET /.well-known/outcomeportal-keys.json``: the public keys decision certificates are signed with.

Public (no key needed: whoever holds a certificate must be able to check it) and the same for
everyone: the active key, then the retired ones still listed (``active: false``).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from outcomeportal.signing import ALG, public_keys_document


class PublicKeyDoc(serializers.Serializer):
    kid = serializers.CharField(help_text="The id a certificate names its signing key by.")
    alg = serializers.ChoiceField([ALG])
    public_key = serializers.CharField(help_text="The raw 32-byte Ed25519 public key, base64.")
    active = serializers.BooleanField(help_text="false: retired, listed so that what it signed still verifies.")


class PublicKeysDoc(serializers.Serializer):
    keys = PublicKeyDoc(many=True)


class SigningKeysView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: PublicKeysDoc},
        auth=[],
        operation_id="signing_keys",
        summary="The public keys that sign decision certificates",
        tags=["certificates"],
    )
    def get(self, request):
        response = Response(public_keys_document())
        response["Cache-Control"] = "public, max-age=300"
        return response
