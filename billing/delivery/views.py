"""The vendor's Deliveries page: every invoice and credit-note email and webhook, with failures first."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.access import Perm, Principal
from accounts.permissions import principal_of
from billing.delivery.models import Delivery, DeliveryStatus
from billing.delivery.selectors import deliveries_list
from billing.delivery.services import DeliveryRefused, delivery_retry
from billing.selectors import invoice_get_for_principal


def _vendor(request, perm: Perm = Perm.ALL_ACCOUNTS) -> Principal:
    principal = principal_of(request)
    if principal is None or not principal.can(perm):
        raise PermissionDenied
    return principal


@login_required
@require_GET
def deliveries(request):
    principal = _vendor(request)
    invoice = None
    if request.GET.get("invoice", "").isdigit():
        invoice = invoice_get_for_principal(principal=principal, invoice_id=int(request.GET["invoice"]))
    status = request.GET.get("status") if request.GET.get("status") in DeliveryStatus.values else None
    rows = deliveries_list(principal=principal, invoice=invoice, status=status, limit=300)
    failed = sum(1 for r in rows if r.status == DeliveryStatus.FAILED)
    return render(
        request,
        "billing/deliveries.html",
        {"rows": rows, "invoice": invoice, "status": status, "failed": failed,
         "can_retry": principal.can(Perm.RECEIVABLES_MANAGE)},
    )  # fmt: skip


@login_required
@require_POST
def delivery_resend(request, delivery_id: int):
    _vendor(request, Perm.RECEIVABLES_MANAGE)
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        raise Http404("No such delivery.")
    try:
        delivery_retry(delivery=delivery)
    except DeliveryRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The email to {delivery.recipient} will be sent again within a minute.")
    return redirect(request.POST.get("next") or "billing_delivery:deliveries")
