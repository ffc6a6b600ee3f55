from __future__ import annotations

import io
from pathlib import Path

import pytest

from retrieval.converters import ConversionError, convert

SAMPLES = Path(__file__).resolve().parents[2] / "bot" / "demo" / "data" / "policies"


def test_markdown_front_matter_headings_and_shortcodes() -> None:
    md = b"""---
title: GitLab GmbH (Germany) benefits
country: DE
---

{{< panel header="**Secure**" >}}
Changes must be approved.
{{< /panel >}}

## Time off

### Parental leave

You get {{% details summary="Statutory" %}}14 weeks{{% /details %}} of leave. See [the law](https://x.example).
{% include note.html %}
<!-- hidden -->

| Type | Days |
|------|------|
| Vacation | 25 |
"""
    doc = convert(md, "entity/gmbh-germany.md")
    assert doc.title == "GitLab GmbH (Germany) benefits"
    assert doc.meta["country"] == "DE"
    text = doc.full_text()
    for leaked in ("{{", "}}", "{%", "panel", "include", "hidden", "https://x.example"):
        assert leaked not in text
    assert "Statutory" in text and "the law" in text
    parental = next(s for s in doc.sections if "14 weeks" in s.text)
    assert parental.headings == ("Time off", "Parental leave")
    assert "Vacation | 25" in text


def test_markdown_h1_becomes_title_when_no_front_matter() -> None:
    doc = convert(b"# Remote work\n\nWork from anywhere.\n\n## Equipment\n\nA laptop.\n", "remote.md")
    assert doc.title == "Remote work"
    assert [s.headings for s in doc.sections] == [(), ("Equipment",)]


def test_html_structure() -> None:
    html = (
        b"<html><head><title>Leave</title><script>var x</script></head><body><nav>menu</nav>"
        b"<h1>Leave policy</h1><p>Intro.</p><h2>Sick leave</h2><p>Call your manager.</p>"
        b"<table><tr><td>Days</td><td>10</td></tr></table></body></html>"
    )
    doc = convert(html, "leave.html")
    assert doc.title == "Leave policy"
    sick = next(s for s in doc.sections if "Call your manager" in s.text)
    assert sick.headings == ("Sick leave",) and "Days | 10" in sick.text
    assert "var x" not in doc.full_text() and "menu" not in doc.full_text()


def test_pdf_keeps_page_numbers() -> None:
    doc = convert((SAMPLES / "de-employee-handbook.pdf").read_bytes(), "de-employee-handbook.pdf")
    assert {s.page for s in doc.sections} == {1, 2, 3, 4}
    assert any("28" in s.text and s.page == 2 for s in doc.sections)


def test_docx_heading_styles() -> None:
    doc = convert((SAMPLES / "sick-leave-policy.docx").read_bytes(), "sick-leave-policy.docx")
    assert doc.title
    assert any(len(s.headings) >= 1 for s in doc.sections)
    assert any("|" in s.text for s in doc.sections)  # the table


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"%PDF-1.7 broken", "x.pdf", "PDF"),
        (b"", "x.md", "empty"),
        (b"   \n", "x.txt", "empty"),
        (b"data", "x.xlsx", "unsupported"),
        (b"not a zip", "x.docx", "DOCX"),
        (b"---\ntitle: [unclosed\n---\nbody", "x.md", "front matter"),
        (b"---\ntitle: only front matter\n---\n", "x.md", "no text"),
    ],
)
def test_bad_input_raises_conversion_error(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(ConversionError, match=reason):
        convert(data, name)


def test_generated_docx_and_pdf_round_trip() -> None:
    import docx

    d = docx.Document()
    d.add_heading("Travel policy", level=1)
    d.add_heading("Per diem", level=2)
    d.add_paragraph("Meals are reimbursed up to 60 EUR a day.")
    buf = io.BytesIO()
    d.save(buf)
    doc = convert(buf.getvalue(), "travel.docx")
    assert doc.title == "Travel policy"
    assert doc.sections[0].headings == ("Per diem",)


def test_pdf_compounds_broken_at_line_ends_are_rejoined() -> None:
    from retrieval.converters.pdf import rejoin_compounds

    assert rejoin_compounds("use an in-\nnetwork provider; pre- \nauthorization") == (
        "use an in-network provider; pre-authorization"
    )
    assert rejoin_compounds("pages 2-\n3 and a dash -\nhere") == "pages 2-\n3 and a dash -\nhere"
