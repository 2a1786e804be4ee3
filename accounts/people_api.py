"""API: an account's people and invitations (`/api/v1/accounts/{id}/users`, `…/invitations`).

The rules are accounts.people's, as on the People page: customer admins (their account's keys
with that role, or signed in) and the vendor key manage an account's people; another account's
is 404. A refusal of the rules (the last customer admin, an address already here or invited)
is 409 with a code saying which.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import people
from accounts.access import Perm
from accounts.models import CUSTOMER_ROLES, Invitation, User
from accounts.permissions import principal_of, require
from accounts.selectors import (
    account_get_for_principal,
    invitation_get_for_scope,
    invitations_open_of,
    people_of,
    person_get_for_scope,
)
from outcomeportal.api.errors import ApiError
from outcomeportal.api.schema import error_response

_ROLES = [(r.value, r.label) for r in CUSTOMER_ROLES]


class PersonOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.ChoiceField(choices=_ROLES)
    active = serializers.BooleanField(source="is_active", help_text="false: deactivated, cannot sign in.")
    last_login = serializers.DateTimeField(allow_null=True)
    date_joined = serializers.DateTimeField()


class PersonListSerializer(serializers.Serializer):
    results = PersonOutSerializer(many=True)


class PersonPatchSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=_ROLES, required=False)
    active = serializers.BooleanField(
        required=False, help_text="false deactivates (every session ends at once); true lets them sign in again."
    )


class InviteSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=_ROLES)


class InvitationOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    role = serializers.ChoiceField(choices=_ROLES)
    status = serializers.ChoiceField(choices=["pending", "expired"], help_text="An expired one can be sent again.")
    invited_by = serializers.CharField(allow_null=True, help_text="The username; null when a key invited.")
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField()
    send_count = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class InvitationListSerializer(serializers.Serializer):
    results = InvitationOutSerializer(many=True)


def _invitation_out(invitation: Invitation) -> dict:
    return InvitationOutSerializer(
        {
            "id": invitation.pk,
            "email": invitation.email,
            "role": invitation.role,
            "status": "expired" if invitation.expires_at <= timezone.now() else "pending",
            "invited_by": invitation.invited_by.username if invitation.invited_by else None,
            "created_at": invitation.created_at,
            "sent_at": invitation.sent_at,
            "send_count": invitation.send_count,
            "expires_at": invitation.expires_at,
        }
    ).data


def _actor(request) -> dict:
    """Who acts, for the record: the signed-in person, or the key by its label."""
    user = request.user
    return {"actor": user, "actor_name": ""} if isinstance(user, User) else {"actor": None, "actor_name": user.label}


def _refused(exc: people.PeopleRefused) -> ApiError:
    code = "last_admin" if isinstance(exc, people.LastAdmin) else "people_conflict"
    return ApiError(code, str(exc), status.HTTP_409_CONFLICT)


def _base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class _PeopleView(APIView):
    permission_classes = [require(Perm.PEOPLE_MANAGE)]

    def account(self, request, external_id: str):
        return account_get_for_principal(principal=principal_of(request), external_id=external_id)


class UserListView(_PeopleView):
    @extend_schema(responses=PersonListSerializer, summary="The account's people, deactivated ones too")
    def get(self, request, external_id: str):
        account = self.account(request, external_id)
        return Response({"results": PersonOutSerializer(people_of(account=account)[:1000], many=True).data})

    @extend_schema(
        request=InviteSerializer,
        responses={
            201: InvitationOutSerializer,
            409: error_response(409, "`people_conflict`: already here, or invited already."),
        },
        summary="Invite someone by email (409 people_conflict: already here, or invited already)",
    )
    def post(self, request, external_id: str):
        account = self.account(request, external_id)
        data = InviteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            invitation = people.invitation_create(
                account=account, email=data.validated_data["email"], role=data.validated_data["role"],
                base_url=_base_url(request), **_actor(request),
            )  # fmt: skip
        except people.PeopleRefused as exc:
            raise _refused(exc) from exc
        return Response(_invitation_out(invitation), status=status.HTTP_201_CREATED)


class UserDetailView(_PeopleView):
    @extend_schema(
        request=PersonPatchSerializer,
        responses={200: PersonOutSerializer, 409: error_response(409, "`last_admin`: the last customer admin.")},
        summary="Change a person's role, deactivate or reactivate them (409 last_admin for the last customer admin)",
    )
    def patch(self, request, external_id: str, user_id: int):
        account = self.account(request, external_id)
        person = person_get_for_scope(account=account, user_id=user_id)
        data = PersonPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values, actor = data.validated_data, _actor(request)
        try:
            if "role" in values:
                people.person_role_change(account=account, user_id=person.pk, role=values["role"], **actor)
            if values.get("active") is False:
                people.person_deactivate(account=account, user_id=person.pk, **actor)
            elif values.get("active") is True:
                people.person_reactivate(account=account, user_id=person.pk, **actor)
        except people.PeopleRefused as exc:
            raise _refused(exc) from exc
        person.refresh_from_db()
        return Response(PersonOutSerializer(person).data)


class InvitationListView(_PeopleView):
    @extend_schema(responses=InvitationListSerializer, summary="The account's open invitations")
    def get(self, request, external_id: str):
        account = self.account(request, external_id)
        return Response({"results": [_invitation_out(i) for i in invitations_open_of(account=account)[:1000]]})


class InvitationDetailView(_PeopleView):
    @extend_schema(responses={204: None}, summary="Revoke an open invitation: its link stops working")
    def delete(self, request, external_id: str, invitation_id: int):
        account = self.account(request, external_id)
        invitation = invitation_get_for_scope(account=account, invitation_id=invitation_id)
        try:
            people.invitation_revoke(account=account, invitation_id=invitation.pk, **_actor(request))
        except people.PeopleRefused as exc:
            raise _refused(exc) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationResendView(_PeopleView):
    @extend_schema(
        request=None,
        responses=InvitationOutSerializer,
        summary="Send an open invitation again: a new link and expiry; the earlier link stops working",
    )
    def post(self, request, external_id: str, invitation_id: int):
        request.data  # noqa: B018 — no body is expected, but one is read like everywhere: over 5 MB is 413
        account = self.account(request, external_id)
        invitation = invitation_get_for_scope(account=account, invitation_id=invitation_id)
        try:
            renewed = people.invitation_resend(
                account=account, invitation_id=invitation.pk, base_url=_base_url(request), **_actor(request)
            )
        except people.PeopleRefused as exc:
            raise _refused(exc) from exc
        return Response(_invitation_out(renewed))
