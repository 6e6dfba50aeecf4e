"""Generated PDFs are valid (strict parser, correct xref) and their text is extractable."""

from __future__ import annotations

import io

import pypdf

from simulators.kit.pdf import make_pdf


def test_pdf_is_readable_with_text() -> None:
    data = make_pdf(
        "Signed: Contract (Q-1001)",
        ["Signed by Zoë Müller <zoe@example.com> on 2026-11-01T10:00:00Z", r"a \ backslash"],
    )
    reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
    assert reader.metadata is not None
    assert reader.metadata.title == "Signed: Contract (Q-1001)"
    text = reader.pages[0].extract_text()
    assert "Signed: Contract (Q-1001)" in text
    assert "Signed by Zoë Müller <zoe@example.com> on 2026-11-01T10:00:00Z" in text
    assert r"a \ backslash" in text
    assert data == make_pdf(
        "Signed: Contract (Q-1001)",
        ["Signed by Zoë Müller <zoe@example.com> on 2026-11-01T10:00:00Z", r"a \ backslash"],
    )


def test_long_logs_wrap_and_paginate() -> None:
    lines = [f"2026-11-01T10:{i % 60:02d}:00Z  event {i}" for i in range(150)] + ["x" * 250]
    reader = pypdf.PdfReader(io.BytesIO(make_pdf("Signing log", lines)), strict=True)
    assert len(reader.pages) == 3
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "event 0" in text and "event 149" in text
    assert "Page 3 of 3" in text
    assert "x" * 250 not in text.replace("\n", "")  # wrapped, with an indent
    assert text.replace("\n", "").replace(" ", "").count("x") == 250
