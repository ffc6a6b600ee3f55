#!/usr/bin/env python3
"""Generate the binary sample policies of the fictional "Brightwave" demo company.

Writes into bot/demo/data/policies/:

* de-employee-handbook.pdf  - "Brightwave GmbH Employee Handbook" (Germany), 4 pages,
  one topic group per page, with real (extractable) text.
* sick-leave-policy.docx    - global "Sick Leave Policy" using the built-in Word
  styles Heading 1 / Heading 2, with one table.

All text lives in this script so the files can be regenerated at any time:

    .venv/bin/python tools/make_sample_docs.py

Requirements: fpdf2 (PDF) and python-docx (DOCX). Output is deterministic apart from
the library versions embedded in the files (fixed creation dates are used).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "bot" / "demo" / "data" / "policies"
PDF_NAME = "de-employee-handbook.pdf"
DOCX_NAME = "sick-leave-policy.docx"
FIXED_DATE = dt.datetime(2026, 1, 1, 9, 0, 0, tzinfo=dt.UTC)

# ---------------------------------------------------------------------------
# Content: Brightwave GmbH Employee Handbook (PDF)
#
# Each page is a list of blocks: ("h1", text), ("h2", text), ("p", text) or
# ("li", text). The PDF uses the PDF core fonts, so text must be Latin-1
# (German umlauts and the section sign are fine; write "EUR" instead of the
# euro sign).
# ---------------------------------------------------------------------------

HANDBOOK_TITLE = "Brightwave GmbH Employee Handbook"

HANDBOOK_PAGES: list[list[tuple[str, str]]] = [
    # Page 1: introduction and working time
    [
        ("title", HANDBOOK_TITLE),
        (
            "p",
            "Version 2026, effective 1 January 2026. Brightwave GmbH, "
            "Beispielstraße 12, 10117 Berlin. People Team: people@brightwave.example",
        ),
        ("h1", "1. Welcome to Brightwave GmbH"),
        (
            "p",
            "Brightwave GmbH is the German entity of Brightwave, based in Berlin. This "
            "handbook summarises the most important rules for its employees. Your "
            "employment contract, works agreements (Betriebsvereinbarungen) and German law "
            "take precedence. The company-wide policies (remote work, expenses, code of "
            "conduct) apply in addition.",
        ),
        ("li", "Probation period (Probezeit): 6 months, with 2 weeks' notice for both sides."),
        ("li", "After probation: statutory notice periods (§ 622 BGB) unless your contract provides longer ones."),
        ("h1", "2. Working Time (Arbeitszeit)"),
        ("p", "These rules follow the German Working Hours Act (ArbZG) and apply to all employees."),
        ("h2", "2.1 Regular Working Hours"),
        (
            "p",
            "Full-time employees work 40 hours per week, Monday to Friday. Core hours are "
            "10:00 to 15:00; otherwise you may work flexibly between 07:00 and 20:00. "
            "Part-time hours are set in your contract.",
        ),
        ("h2", "2.2 Legal Limits (ArbZG)"),
        (
            "li",
            "Maximum 8 hours per day, extendable to 10 hours if the average over 6 months "
            "stays at 8 hours per working day.",
        ),
        ("li", "Breaks: at least 30 minutes after more than 6 hours and 45 minutes after more than 9 hours of work."),
        ("li", "At least 11 hours of uninterrupted rest between two working days."),
        ("h2", "2.3 Time Recording and Overtime"),
        (
            "p",
            "Record your working time daily in the Brightwave People portal, also when "
            "working from home. Overtime needs your manager's approval, is credited 1:1 to "
            "your working time account (from minus 20 to plus 40 hours) and is compensated "
            "with time off.",
        ),
    ],
    # Page 2: vacation
    [
        ("h1", "3. Vacation (Urlaub)"),
        ("p", "Your employment contract and the Federal Vacation Act (BUrlG) set your vacation rights."),
        ("h2", "3.1 Entitlement: 28 Days"),
        (
            "p",
            "Full-time employees receive 28 working days of paid vacation per calendar "
            "year (five-day week). The statutory minimum under the Federal Vacation Act "
            "(BUrlG) is 20 days; the other 8 days are contractual. 24 and 31 December are "
            "additional paid days off. Part-time employees receive vacation pro rata to "
            "their working days, rounded up to the nearest half day (4 days per week = "
            "22.5 days, 3 days = 17 days).",
        ),
        ("h2", "3.2 Joining and Leaving"),
        (
            "p",
            "The full entitlement arises after 6 months of employment (§ 4 BUrlG). If you "
            "join after 30 June, you receive 1/12 of the annual entitlement per full month "
            "of employment in that year. Vacation is only paid out when you leave.",
        ),
        ("h2", "3.3 Requesting Vacation"),
        (
            "p",
            "Request vacation through hrbot or the Brightwave People portal. Your manager "
            "decides within 5 working days and may only refuse for urgent operational "
            "reasons or colleagues' requests with social priority (§ 7 BUrlG). Take at "
            "least 10 consecutive working days once a year.",
        ),
        ("h2", "3.4 Carry-over until 31 March"),
        (
            "p",
            "Unused vacation is carried over automatically into the following year and "
            "must be taken by 31 March of the following year (§ 7 (3) BUrlG). Days not "
            "taken by 31 March are forfeited, but only if Brightwave has reminded you in "
            "good time of your remaining days and the deadline. The People Team sends "
            "these reminders every October and January. If you could not take vacation "
            "because of illness, the statutory days lapse only 15 months after the end of "
            "the vacation year.",
        ),
        ("h2", "3.5 Illness During Vacation"),
        (
            "p",
            "Days of illness during vacation that are certified by a doctor (AU) are not "
            "counted as vacation (§ 9 BUrlG).",
        ),
    ],
    # Page 3: maternity protection and parental leave
    [
        ("h1", "4. Maternity Protection (Mutterschutz)"),
        (
            "p",
            "Please tell the People Team as soon as you know you are pregnant, so that we "
            "can carry out the risk assessment required by the Maternity Protection Act "
            "(MuSchG).",
        ),
        (
            "li",
            "Protection period: 6 weeks before the expected birth (you may choose to keep "
            "working) and 8 weeks after it (no work allowed); 12 weeks after premature or "
            "multiple births.",
        ),
        (
            "li",
            "Pay: Mutterschaftsgeld of up to EUR 13 per day from your health insurer, "
            "topped up by Brightwave to your average net pay.",
        ),
        ("li", "Protection against dismissal from the start of pregnancy until 4 months after the birth."),
        ("h1", "5. Parental Leave (Elternzeit)"),
        (
            "li",
            "Each parent may take up to 3 years of unpaid Elternzeit per child, until the "
            "child's 8th birthday (up to 24 months between the 3rd and 8th birthday).",
        ),
        (
            "li",
            "Request it in writing with your signature at least 7 weeks before it "
            "starts (13 weeks if it starts after the child's 3rd birthday).",
        ),
        ("li", "Part-time work of up to 32 hours per week is possible during Elternzeit."),
        (
            "li",
            "You are protected against dismissal from your request until the end of "
            "Elternzeit and return to the same or an equivalent position.",
        ),
        (
            "li",
            "Elterngeld is paid by the state, not by Brightwave: 65 to 67 percent of "
            "previous net income, EUR 300 to EUR 1,800 per month, for up to 14 months "
            "shared between the parents (or longer as ElterngeldPlus).",
        ),
        (
            "li",
            "Vacation is not reduced if you work part-time for Brightwave during "
            "Elternzeit; otherwise it is reduced by 1/12 per full month (§ 17 BEEG).",
        ),
        ("h1", "6. Brightwave Family Benefits"),
        (
            "li",
            "Partner leave: 10 working days of paid leave for the second parent within "
            "8 weeks of the birth or adoption.",
        ),
        ("li", "Childcare allowance: up to EUR 150 per month, tax-free, per child not yet at school."),
    ],
    # Page 4: sick leave
    [
        ("h1", "7. Sick Leave (Krankheit)"),
        ("p", "This section follows the Continued Remuneration Act (EFZG) and the global Sick Leave Policy."),
        ("h2", "7.1 Reporting Sick"),
        (
            "p",
            "Tell your manager on the first day of illness, before your working day "
            "starts and at the latest by 10:00, for example with hrbot (\"I'm sick "
            'today"). Say how long you expect to be absent; you do not have to give the '
            "diagnosis.",
        ),
        ("h2", "7.2 Doctor's Note (AU) from Day 4"),
        (
            "p",
            "If your illness lasts more than 3 calendar days, you need a doctor's "
            "certificate (Arbeitsunfähigkeitsbescheinigung, AU) from the 4th calendar day "
            "(§ 5 EFZG). Weekends count: if you fall ill on a Friday and are still ill on "
            "Monday, Monday is day 4. In individual cases Brightwave may ask for an AU "
            "from day 1.",
        ),
        (
            "li",
            "Statutory health insurance: your doctor sends the AU electronically (eAU) and "
            "Brightwave retrieves it from your insurer. You still need to see a doctor and "
            "inform your manager.",
        ),
        ("li", "Private insurance or a doctor abroad: send a scan of the AU to people@brightwave.example."),
        ("h2", "7.3 Sick Pay"),
        (
            "p",
            "Brightwave pays 100 percent of your regular pay for up to 6 weeks per illness "
            "(Entgeltfortzahlung, § 3 EFZG), from the 5th week of employment. After that, "
            "your health insurer pays Krankengeld of 70 percent of gross pay (at most "
            "90 percent of net pay).",
        ),
        ("h2", "7.4 Sick Children"),
        (
            "p",
            "If your child under 12 is ill, report your absence in the same way. You need "
            "a doctor's certificate for the child from day 1; your health insurer pays "
            "Kinderkrankengeld (§ 45 SGB V).",
        ),
        ("h2", "7.5 Returning to Work"),
        (
            "p",
            "After more than 6 weeks of illness within 12 months, the People Team offers "
            "voluntary occupational integration management (BEM, § 167 SGB IX), including "
            "a gradual return if your doctor recommends it.",
        ),
    ],
]

# ---------------------------------------------------------------------------
# Content: global Sick Leave Policy (DOCX)
#
# Blocks: ("title", t), ("h1", t), ("h2", t), ("p", t), ("li", t),
# ("table", rows) where rows[0] is the header row.
# ---------------------------------------------------------------------------

SICK_TITLE = "Sick Leave Policy"

SICK_BLOCKS: list[tuple[str, object]] = [
    ("title", SICK_TITLE),
    (
        "p",
        "Effective 1 January 2026. Applies to all employees of Brightwave Inc. (United "
        "States), Brightwave GmbH (Germany) and Brightwave Ltd (United Kingdom). Owner: "
        "People Team (people@brightwave.example).",
    ),
    ("h1", "1. Purpose"),
    (
        "p",
        "When you are ill, your only job is to get better. This policy explains how to "
        "report sickness, when you need medical evidence and how you are paid in each "
        "Brightwave entity. Where local law gives you more, the local law applies.",
    ),
    ("h1", "2. Reporting sickness"),
    ("h2", "2.1 On the first day"),
    (
        "li",
        "Tell your manager as early as possible and no later than one hour after your "
        "normal start time (Brightwave GmbH: before your working day starts, at the "
        "latest by 10:00).",
    ),
    (
        "li",
        'Log the absence with hrbot in Slack or Teams ("I\'m sick today") or in the '
        "Brightwave People portal, with the expected duration.",
    ),
    ("li", "You do not have to tell your manager what the illness is."),
    ("h2", "2.2 Longer absences"),
    (
        "p",
        "Keep your manager informed if the absence lasts longer than expected, and log "
        "every extension. If you cannot contact us yourself, a family member may do it "
        "for you.",
    ),
    ("h1", "3. Medical evidence and sick pay by country"),
    (
        "table",
        [
            ["Entity", "Medical evidence", "Paid sick time", "After that"],
            [
                "Brightwave Inc. (US)",
                "Doctor's note after more than 3 consecutive scheduled workdays",
                "40 hours (5 days) of paid sick time per calendar year, pro rata for part-time "
                "employees; no carry-over unless state law requires it",
                "PTO, then short-term disability (60% of base pay after 7 calendar days)",
            ],
            [
                "Brightwave GmbH (DE)",
                "Doctor's certificate (AU) from the 4th calendar day of illness; electronic eAU "
                "for statutory health insurance",
                "100% of pay for up to 6 weeks per illness (EFZG)",
                "Krankengeld from the health insurer (70% of gross, max. 90% of net)",
            ],
            [
                "Brightwave Ltd (GB)",
                "Self-certification for up to 7 calendar days; fit note from day 8",
                "Company sick pay at full basic pay for up to 10 working days in any rolling 12 months (includes SSP)",
                "Statutory Sick Pay (SSP) at the statutory rate, GBP 118.75 per week from "
                "April 2025, for up to 28 weeks",
            ],
        ],
    ),
    (
        "p",
        "Details for Germany are in the Brightwave GmbH Employee Handbook (section 7). "
        "Sick days are recorded on your sick leave balance, which hrbot can show you.",
    ),
    ("h1", "4. Sickness during vacation"),
    (
        "p",
        "If you fall ill during vacation, report it on the first day of sickness. "
        "Brightwave GmbH and Brightwave Ltd employees with the required medical evidence "
        "get the vacation days back. Brightwave Inc. employees may convert the days to "
        "paid sick time for illnesses of 2 or more days.",
    ),
    ("h1", "5. Caring for sick family members"),
    (
        "li",
        "US: paid sick time may also be used to care for a sick child, spouse, partner "
        "or parent, and for medical appointments.",
    ),
    (
        "li",
        "Germany: for a sick child under 12, Kinderkrankengeld is paid by the health "
        "insurer (§ 45 SGB V); a doctor's certificate is needed from the first day.",
    ),
    ("li", "UK: reasonable unpaid time off for dependants in an emergency; Brightwave Ltd pays up to 2 days per year."),
    ("h1", "6. Returning to work"),
    ("h2", "6.1 Return-to-work conversation"),
    (
        "p",
        "After an absence of more than 5 working days, your manager holds a short, "
        "supportive return-to-work conversation to check whether you need any "
        "adjustments. It is not a disciplinary meeting.",
    ),
    ("h2", "6.2 Long-term sickness"),
    (
        "p",
        "If you are absent for more than 4 weeks in a row, or for more than 6 weeks in "
        "total within 12 months, the People Team contacts you to discuss support such as "
        "an occupational health referral, a phased return or reasonable adjustments. In "
        "Germany this is the voluntary BEM procedure (§ 167 SGB IX).",
    ),
    ("h1", "7. Mental health"),
    (
        "p",
        "Mental health conditions are treated exactly like physical illness. You can "
        "also contact the Employee Assistance Program for free, confidential support.",
    ),
    ("h1", "8. Misuse"),
    (
        "p",
        "Reporting sick when you are not ill is a serious breach of trust and can lead to "
        "disciplinary action. Managers may not pressure anyone to work while sick.",
    ),
]


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------


def build_pdf(path: Path) -> None:
    from fpdf import FPDF

    class HandbookPDF(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", "I", 8)
            self.set_text_color(110, 110, 110)
            # Only "Page n of N": text extractors drop it as a page number.
            self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = HandbookPDF(format="A4")
    pdf.set_margins(18, 15, 18)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_title(HANDBOOK_TITLE)
    pdf.set_author("Brightwave GmbH People Team")
    pdf.set_subject(
        "Employee handbook for Brightwave GmbH (Germany): working time, vacation, parental leave, sick leave"
    )
    pdf.set_keywords("Brightwave GmbH, Germany, DE, handbook, Urlaub, Elternzeit, AU")
    pdf.set_creator("tools/make_sample_docs.py")
    pdf.set_lang("en")
    pdf.set_creation_date(FIXED_DATE)

    for page in HANDBOOK_PAGES:
        pdf.add_page()
        for kind, text in page:
            if kind == "title":
                pdf.set_font("Helvetica", "B", 18)
                pdf.multi_cell(0, 9, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            elif kind == "h1":
                pdf.ln(2)
                pdf.set_font("Helvetica", "B", 13)
                pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            elif kind == "h2":
                pdf.ln(1)
                pdf.set_font("Helvetica", "B", 10.5)
                pdf.multi_cell(0, 5.5, text, new_x="LMARGIN", new_y="NEXT")
            elif kind == "p":
                pdf.set_font("Helvetica", "", 9.5)
                pdf.multi_cell(0, 4.6, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1.5)
            elif kind == "li":
                pdf.set_font("Helvetica", "", 9.5)
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(4, 4.6, "-")
                pdf.multi_cell(0, 4.6, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            else:  # pragma: no cover - content error
                raise ValueError(f"unknown block type {kind!r}")

    if pdf.page_no() != len(HANDBOOK_PAGES):
        raise SystemExit(
            f"handbook overflowed: {pdf.page_no()} pages instead of {len(HANDBOOK_PAGES)}; shorten the text"
        )
    pdf.output(str(path))


# ---------------------------------------------------------------------------
# DOCX
# ---------------------------------------------------------------------------


def build_docx(path: Path) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    props = doc.core_properties
    props.title = SICK_TITLE
    props.subject = "Global sick leave policy for all Brightwave entities"
    props.author = "Brightwave People Team"
    props.keywords = "sick leave, Brightwave, global"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_modified_by = "Brightwave People Team"
    props.revision = 1

    doc.styles["Normal"].font.name = "Calibri"
    doc.styles["Normal"].font.size = Pt(11)

    for kind, content in SICK_BLOCKS:
        if kind == "title":
            doc.add_heading(str(content), level=0)  # style "Title"
        elif kind == "h1":
            doc.add_heading(str(content), level=1)  # style "Heading 1"
        elif kind == "h2":
            doc.add_heading(str(content), level=2)  # style "Heading 2"
        elif kind == "p":
            doc.add_paragraph(str(content))
        elif kind == "li":
            doc.add_paragraph(str(content), style="List Bullet")
        elif kind == "table":
            rows = content  # type: ignore[assignment]
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    cell = table.cell(r, c)
                    cell.text = value
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
        else:  # pragma: no cover - content error
            raise ValueError(f"unknown block type {kind!r}")

    doc.save(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    pdf_path = args.out / PDF_NAME
    docx_path = args.out / DOCX_NAME
    build_pdf(pdf_path)
    build_docx(docx_path)
    for p in (pdf_path, docx_path):
        print(f"wrote {p} ({p.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
