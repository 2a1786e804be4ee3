"""The invoice and the credit note as PDF documents (ReportLab, pure Python).

The same figures as the page and the API: lines from the invoice's own rows, the totals from
:func:`billing.presenters.invoice_totals`, the dates from :func:`billing.presenters.invoice_dates`,
seller and buyer as the invoice stored them (billing.invoices.document).
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.invoices.document import Party
from billing.invoices.models import CreditNote, Invoice
from billing.presenters import invoice_dates, invoice_totals
from outcomeportal.core import formatting
from outcomeportal.core.money import money_display, price_display

_INK = colors.HexColor("#1f2937")
_MUTED = colors.HexColor("#6b7280")
_RULE = colors.HexColor("#d1d5db")
_BAND = colors.HexColor("#f3f4f6")
_WIDTH = 174 * mm  # A4 less 18 mm margins


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle(
        "body",
        parent=base["BodyText"],
        fontName="Helvetica",
        fontSize=9,
        leading=12,
        textColor=_INK,
        spaceBefore=0,
        spaceAfter=0,
    )
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=_MUTED),
        "label": ParagraphStyle("label", parent=body, fontSize=7.5, leading=10, textColor=_MUTED),
        "seller": ParagraphStyle("seller", parent=body, fontName="Helvetica-Bold", fontSize=14, leading=18),
        "title": ParagraphStyle(
            "title", parent=body, fontName="Helvetica-Bold", fontSize=22, leading=26, alignment=TA_RIGHT
        ),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        "stamp": ParagraphStyle(
            "stamp",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=11,
            alignment=TA_RIGHT,
            textColor=colors.HexColor("#b91c1c"),
        ),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _party_block(label: str, party: Party, st: dict, *, with_emails: bool) -> list:
    lines = [party.name, *party.address]
    if party.country:
        lines.append(party.country)
    block = [_p(label.upper(), st["label"]), Paragraph(f"<b>{escape(lines[0] or '—')}</b>", st["body"])]
    block += [_p(line, st["body"]) for line in lines[1:]]
    if party.tax_id:
        block.append(_p(f"Tax ID: {party.tax_id}", st["body"]))
    if with_emails and party.emails:
        block.append(_p(", ".join(party.emails), st["small"]))
    return block


def _header(title: str, seller: Party, facts: list[tuple[str, str]], st: dict, stamp: str = "") -> Table:
    left = [_p(seller.name or "—", st["seller"])]
    left += [_p(line, st["small"]) for line in (*seller.address, seller.country) if line]
    if seller.tax_id:
        left.append(_p(f"Tax ID: {seller.tax_id}", st["small"]))
    if seller.emails:
        left.append(_p(", ".join(seller.emails), st["small"]))
    right = [_p(title, st["title"]), Spacer(1, 2 * mm)]
    right.append(
        Table(
            [[_p(k, st["label"]), _p(v, st["right"])] for k, v in facts],
            colWidths=[28 * mm, 50 * mm],
            style=[
                ("ALIGN", (0, 0), (-1, -1), "RIGHT"),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ],
        )
    )
    if stamp:
        right.append(_p(stamp, st["stamp"]))
    return Table([[left, right]], colWidths=[90 * mm, 84 * mm], style=[("VALIGN", (0, 0), (-1, -1), "TOP")])


def _doc(buffer: io.BytesIO, title: str) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=title,
        author="OutcomePortal",
    )


def _footer(text: str):
    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(_MUTED)
        canvas.drawString(18 * mm, 10 * mm, text)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def invoice_pdf(invoice: Invoice) -> bytes:
    st = _styles()
    buffer = io.BytesIO()
    currency = invoice.currency
    title = f"Invoice {invoice.number}" if invoice.number else "Upcoming invoice (draft)"
    doc = _doc(buffer, title)
    seller, buyer = Party.from_dict(invoice.seller or {}), Party.from_dict(invoice.buyer or {})
    if not buyer.name:
        buyer = Party(name=invoice.account.name)
    facts = [("Invoice no.", invoice.number or "draft"), *invoice_dates(invoice), ("Currency", currency)]
    stamp = {"void": "VOID", "paid": "PAID", "uncollectible": "UNCOLLECTIBLE"}.get(invoice.payment_status or "", "")
    if invoice.status == "draft":
        stamp = "DRAFT — not yet issued"
    story = [_header("INVOICE", seller, facts, st, stamp), Spacer(1, 8 * mm)]
    story.append(
        Table(
            [
                [
                    _party_block("Bill to", buyer, st, with_emails=True),
                    _party_block(
                        "Account",
                        Party(name=invoice.account.name, address=(invoice.account.external_id,)),
                        st,
                        with_emails=False,
                    ),
                ]
            ],
            colWidths=[100 * mm, 74 * mm],
            style=[("VALIGN", (0, 0), (-1, -1), "TOP")],
        )
    )
    story.append(Spacer(1, 8 * mm))
    story += [_lines_table(invoice, st), Spacer(1, 4 * mm), _totals_table(invoice), Spacer(1, 6 * mm)]
    story += _closing(invoice, seller, st)
    footer = f"{seller.name} · {title} · {invoice.account.name}"
    doc.build(story, onFirstPage=_footer(footer), onLaterPages=_footer(footer))
    return buffer.getvalue()


def _lines_table(invoice: Invoice, st) -> Table:
    """The invoice's lines: description, quantity, unit price (or credits) and amount."""
    currency = invoice.currency
    rows = [["Description", "Quantity", "Unit price", "Amount"]]
    for line in invoice.lines.order_by("position"):
        unit = (
            formatting.plural(line.unit_credits, "credit")
            if line.unit_credits is not None
            else ("" if line.unit_price is None else price_display(line.unit_price, currency))
        )
        rows.append(
            [
                _p(line.description, st["body"]),
                formatting.count(line.quantity),
                unit,
                money_display(line.amount, currency),
            ]
        )
    if len(rows) == 1:
        rows.append([_p("No charges.", st["small"]), "", "", ""])
    lines = Table(rows, colWidths=[98 * mm, 22 * mm, 26 * mm, 28 * mm], repeatRows=1)
    lines.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("TEXTCOLOR", (0, 0), (-1, -1), _INK),
                ("BACKGROUND", (0, 0), (-1, 0), _BAND),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, _INK),
                ("LINEBELOW", (0, 1), (-1, -1), 0.3, _RULE),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return lines


def _totals_table(invoice: Invoice) -> Table:
    """Subtotal, credits, tax and total, right-aligned under the lines (the strong ones in bold)."""
    totals = invoice_totals(invoice)
    table = Table([["", label, amount] for label, amount, _ in totals], colWidths=[84 * mm, 54 * mm, 36 * mm])
    style = [
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("TEXTCOLOR", (0, 0), (-1, -1), _INK),
    ]
    for i, (_, _, strong) in enumerate(totals):
        if strong:
            style += [("FONTNAME", (1, i), (-1, i), "Helvetica-Bold"), ("LINEABOVE", (1, i), (-1, i), 0.8, _INK)]
    table.setStyle(TableStyle(style))
    return table


def _closing(invoice: Invoice, seller: Party, st) -> list:
    """What follows the totals: the tax note, the invoice's notes, its void, how to pay, and where
    each line's events are."""
    story = []
    if invoice.tax_note:
        story.append(_p(invoice.tax_note, st["body"]))
    for note in invoice.notes or []:
        story.append(_p(note, st["small"]))
    if invoice.status == "void":
        story.append(_p(f"This invoice was voided: {invoice.void_reason}", st["body"]))
    if seller.payment_instructions and invoice.status == "finalized" and invoice.payment_status != "paid":
        story += [Spacer(1, 4 * mm), _p("HOW TO PAY", st["label"])]
        reference = f" Please quote {invoice.number}." if invoice.number else ""
        story.append(_p(seller.payment_instructions + reference, st["body"]))
    story += [
        Spacer(1, 6 * mm),
        _p(
            "Every line lists the exact outcome events behind it in the portal and over the API "
            f"(/api/v1/invoices/{invoice.pk}/lines/<line>/events). Amounts are rounded once per line to the "
            "currency's minor unit; the total is the sum of the lines.",
            st["small"],
        ),
    ]
    return story


def credit_note_pdf(note: CreditNote, *, seller: Party, buyer: Party, invoice_number: str | None) -> bytes:
    """A credit note as a document of its own: its number, date, the invoice it corrects, the amount."""
    st = _styles()
    buffer = io.BytesIO()
    doc = _doc(buffer, f"Credit note {note.number}")
    issued = note.created_at.astimezone(ZoneInfo(note.account.timezone))
    facts = [("Credit note no.", note.number), ("Date", formatting.day(issued))]
    if invoice_number:
        facts.append(("Corrects invoice", invoice_number))
    facts.append(("Currency", note.currency))
    story = [
        _header("CREDIT NOTE", seller, facts, st),
        Spacer(1, 8 * mm),
        *_party_block("Credit to", buyer, st, with_emails=True),
        Spacer(1, 8 * mm),
    ]
    events = f" ({len(note.event_ids)} outcome events)" if note.event_ids else ""
    rows = [
        ["Description", "Amount"],
        [_p(note.reason + events, st["body"]), money_display(-note.amount, note.currency)],
        ["Total credited", money_display(-note.amount, note.currency)],
    ]
    table = Table(rows, colWidths=[138 * mm, 36 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("BACKGROUND", (0, 0), (-1, 0), _BAND),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, _INK),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, _INK),
                ("ALIGN", (0, -1), (0, -1), "RIGHT"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
            ]
        )
    )
    story += [
        table,
        Spacer(1, 6 * mm),
        _p("The credit is applied to the account's next invoice as a credit line.", st["small"]),
    ]
    footer = f"{seller.name} · Credit note {note.number}"
    doc.build(story, onFirstPage=_footer(footer), onLaterPages=_footer(footer))
    return buffer.getvalue()
