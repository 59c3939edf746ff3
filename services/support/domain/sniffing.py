"""What an attachment really is, from its first bytes.

The name and the Content-Type an upload comes with are the sender's claims; only the bytes count.
An attachment is accepted when its magic bytes are one of the allowed formats (images, PDF, plain
text logs); an ``.exe`` called ``.png`` starts with ``MZ`` and is refused.
"""

from __future__ import annotations

PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
PDF = "application/pdf"
TEXT = "text/plain"

ALLOWED_TYPES = (PNG, JPEG, GIF, WEBP, PDF, TEXT)

# How much of a text file is looked at before it is believed to be text.
_TEXT_SAMPLE = 8192


def sniff(data: bytes) -> str | None:
    """The allowed content type the bytes show, or None (unknown, binary or empty)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    if data and _is_text(data[:_TEXT_SAMPLE]):
        return TEXT
    return None


def _is_text(sample: bytes) -> bool:
    """UTF-8 without NUL or other control characters than tab, newlines and form feed."""
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sample may have cut a character in two at its end.
        if exc.start < len(sample) - 3:
            return False
        text = sample[: exc.start].decode("utf-8")
    return all(c >= " " or c in "\t\n\r\f" for c in text) and "\x7f" not in text
