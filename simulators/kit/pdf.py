"""Small, valid PDF 1.4 files written by hand (no dependency): signed PDFs and signing logs.

Output is deterministic for the same input, so hashes of generated files are reproducible.
"""

from __future__ import annotations

import textwrap

PAGE_WIDTH = 595  # A4 in points
PAGE_HEIGHT = 842
MARGIN = 50
TITLE_SIZE = 16
BODY_SIZE = 10
LEADING = 14
WRAP_AT = 92  # characters of 10 pt Helvetica that fit between the margins
FIRST_PAGE_LINES = (PAGE_HEIGHT - 2 * MARGIN - 40) // LEADING
OTHER_PAGE_LINES = (PAGE_HEIGHT - 2 * MARGIN - 10) // LEADING


def make_pdf(title: str, lines: list[str]) -> bytes:
    """A PDF with a bold title and the given lines (wrapped, paginated) in Helvetica."""
    body = _wrap(lines)
    pages = _paginate(body)
    writer = _PdfWriter()
    catalog = writer.reserve()
    pages_id = writer.reserve()
    font = writer.add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    bold = writer.add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
    )
    info = writer.add(b"<< /Title " + _text_string(title) + b" /Producer (docflow simulators) >>")
    page_ids = []
    for number, page_lines in enumerate(pages, start=1):
        content = _page_content(title if number == 1 else None, page_lines, number, len(pages))
        content_id = writer.add(
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
        )
        page_ids.append(
            writer.add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] "
                b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> /Contents %d 0 R >>"
                % (pages_id, PAGE_WIDTH, PAGE_HEIGHT, font, bold, content_id)
            )
        )
    kids = b" ".join(b"%d 0 R" % page for page in page_ids)
    writer.set(pages_id, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids)))
    writer.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    return writer.finish(root=catalog, info=info)


def _wrap(lines: list[str]) -> list[str]:
    wrapped: list[str] = []
    for line in lines:
        for part in line.splitlines() or [""]:
            wrapped.extend(textwrap.wrap(part, WRAP_AT, subsequent_indent="    ") or [""])
    return wrapped


def _paginate(lines: list[str]) -> list[list[str]]:
    pages = [lines[:FIRST_PAGE_LINES]]
    rest = lines[FIRST_PAGE_LINES:]
    while rest:
        pages.append(rest[:OTHER_PAGE_LINES])
        rest = rest[OTHER_PAGE_LINES:]
    return pages


def _page_content(title: str | None, lines: list[str], number: int, total: int) -> bytes:
    top = PAGE_HEIGHT - MARGIN
    ops: list[bytes] = []
    if title is not None:
        ops.append(b"BT /F2 %d Tf %d %d Td %s Tj ET" % (TITLE_SIZE, MARGIN, top, _literal(title)))
        top -= 40
    if lines:
        ops.append(b"BT /F1 %d Tf %d TL %d %d Td" % (BODY_SIZE, LEADING, MARGIN, top))
        ops.extend(b"%s Tj T*" % _literal(line) for line in lines)
        ops.append(b"ET")
    footer = _literal(f"Page {number} of {total}")
    ops.append(b"BT /F1 8 Tf %d %d Td %s Tj ET" % (PAGE_WIDTH - MARGIN - 50, MARGIN - 25, footer))
    return b"\n".join(ops)


def _literal(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding; unmappable characters become '?'."""
    out = bytearray(b"(")
    for byte in text.encode("cp1252", errors="replace"):
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    out += b")"
    return bytes(out)


def _text_string(text: str) -> bytes:
    """A PDF text string for metadata: plain ASCII literal, else UTF-16BE hex."""
    if text.isascii():
        return _literal(text)
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


class _PdfWriter:
    """Numbers objects, records their byte offsets, and writes the xref table."""

    def __init__(self) -> None:
        self._objects: list[bytes | None] = []

    def reserve(self) -> int:
        self._objects.append(None)
        return len(self._objects)

    def add(self, body: bytes) -> int:
        self._objects.append(body)
        return len(self._objects)

    def set(self, number: int, body: bytes) -> None:
        self._objects[number - 1] = body

    def finish(self, *, root: int, info: int) -> bytes:
        # The binary comment line marks the file as binary for transfer tools.
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self._objects, start=1):
            if body is None:
                raise ValueError(f"PDF object {number} was reserved but never written")
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref_at = len(out)
        size = len(self._objects) + 1
        out += b"xref\n0 %d\n0000000000 65535 f \n" % size
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
        out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\n" % (size, root, info)
        out += b"startxref\n%d\n%%%%EOF\n" % xref_at
        return bytes(out)
