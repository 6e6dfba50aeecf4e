"""Names of Content Server nodes made from other systems' data: safe characters, bounded,
the item's id never cut. Pure functions; workflows and activities both use them."""

from __future__ import annotations

import unicodedata

MAX_NAME = 200  # Content Server allows 248; leave room for a " (2)" a person may add
_FORBIDDEN = frozenset(':/\\*?"<>|')


def clean_name(text: str) -> str:
    """Text safe in a Content Server name: no control characters, separators or reserved
    punctuation, single spaces, no leading or trailing dots and spaces."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        "_" if c in _FORBIDDEN else " " if unicodedata.category(c).startswith(("C", "Z")) else c
        for c in text
    )
    return " ".join(text.split()).strip(". ")


def node_name(label: str, item: str, title: str = "", extension: str = "") -> str:
    """`<label> <id> - <title><extension>`, within MAX_NAME; the id is never cut."""
    head = clean_name(f"{label} {item}")[:150]
    extension = clean_name(extension)
    if extension and not extension.startswith("."):
        extension = "." + extension
    title = clean_name(title)
    room = MAX_NAME - len(head) - len(extension) - 3
    name = f"{head} - {title[:room].rstrip(' .')}" if title and room > 0 else head
    return name + extension
