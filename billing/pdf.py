"""The invoice as a PDF (ReportLab, pure Python): the same lines and totals as the page."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.invoices.models import Invoice
from billing.presenters import quantity_str
from outcomeportal.core.money import money_display, price_display


def invoice_pdf(invoice: Invoice) -> bytes:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm, bottomMargin=18 * mm,
        title=f"Invoice {invoice.number or 'draft'}", author="OutcomePortal",
    )  # fmt: skip
    currency = invoice.currency
    title = f"Invoice {invoice.number}" if invoice.number else "Upcoming invoice (draft)"
    if invoice.status == "void":
        title += " — VOID"
    story = [
        Paragraph(title, styles["Title"]),
        Paragraph(
            f"{invoice.account.name} ({invoice.account.external_id}) · period {invoice.period} · {currency}",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]
    cell = styles["BodyText"]
    rows = [["Description", "Quantity", "Unit price", "Amount"]]
    for line in invoice.lines.order_by("position"):
        unit = (
            f"{quantity_str(line.unit_credits)} credits"
            if line.unit_credits is not None
            else ("" if line.unit_price is None else price_display(line.unit_price, currency))
        )
        rows.append([Paragraph(line.description, cell), quantity_str(line.quantity), unit,
                     money_display(line.amount, currency)])  # fmt: skip
    rows += [
        ["", "", "Subtotal", money_display(invoice.subtotal, currency)],
        ["", "", "Credits applied", money_display(-invoice.credits_applied, currency)],
        ["", "", "Total", money_display(invoice.total, currency)],
    ]
    table = Table(rows, colWidths=[95 * mm, 22 * mm, 28 * mm, 28 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEABOVE", (2, -3), (-1, -3), 0.5, colors.grey),
                ("FONTNAME", (2, -1), (-1, -1), "Helvetica-Bold"),
            ]
        )
    )
    story.append(table)
    story.append(Spacer(1, 6 * mm))
    for note in invoice.notes or []:
        story.append(Paragraph(note, styles["Normal"]))
    story.append(
        Paragraph(
            "Every line lists the exact outcome events behind it in the portal and over the API "
            f"(/api/v1/invoices/{invoice.pk}/lines/&lt;line&gt;/events). Amounts are rounded once per line to the "
            "currency's minor unit; the total is the sum of the lines.",
            styles["Italic"],
        )
    )
    doc.build(story)
    return buffer.getvalue()
