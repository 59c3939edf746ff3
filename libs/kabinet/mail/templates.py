"""Mail templates in Russian and English, rendered with ``string.Template`` (``$name``).

Each service defines its own templates in its own package and passes a ``TemplateSet`` to
``enqueue_mail``; nothing here is a registry that modules fill in at import time. Values go into
the text part and the subject as they are and into the HTML part HTML-escaped. A template without
an HTML part gets one made from its text (escaped, links made clickable). Every HTML part is
wrapped in one shared, inline-styled layout. A language the template lacks falls back to English.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from string import Template

from kabinet.messages import DEFAULT_LANGUAGE

PRODUCT_NAME = "Kabinet"

# Inline style for a call-to-action link in an HTML part (mail clients drop <style> blocks).
BUTTON_STYLE = (
    "display:inline-block;padding:12px 24px;background:#0b5394;color:#ffffff;"
    "text-decoration:none;border-radius:6px;font-weight:bold;"
)

_FOOTER = {
    "en": "This message was sent automatically by Kabinet. Please do not reply to it.",
    "ru": "Это письмо отправлено Kabinet автоматически. Отвечать на него не нужно.",
}

_LAYOUT = Template(
    """<!DOCTYPE html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
</head>
<body style="margin:0;padding:0;background:#f4f5f7;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;\
background:#ffffff;border-radius:8px;font-family:Arial,Helvetica,sans-serif;color:#1f2933;">
<tr><td style="padding:20px 32px;border-bottom:1px solid #e4e7eb;font-size:20px;\
font-weight:bold;color:#0b5394;">$product</td></tr>
<tr><td style="padding:24px 32px;font-size:15px;line-height:1.5;">
$content
</td></tr>
<tr><td style="padding:16px 32px;border-top:1px solid #e4e7eb;font-size:12px;\
color:#7b8794;">$footer</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""
)

_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}")


class TemplateError(ValueError):
    """A template is malformed, or rendering it lacks a value or would break a header."""


def resolve_language(language: str, available: Iterable[str]) -> str:
    """The language to render in: ``ru-RU``/``ru_RU``/``RU`` mean ``ru``; unknown means English."""
    match = _LANGUAGE_TAG.match(language.strip())
    primary = match.group(0).lower() if match else ""
    return primary if primary in set(available) else DEFAULT_LANGUAGE


def layout(content_html: str, *, language: str, title: str) -> str:
    """Wrap an HTML fragment (already safe) in the shared Kabinet layout."""
    lang = language if language in _FOOTER else DEFAULT_LANGUAGE
    return _LAYOUT.substitute(
        lang=lang,
        title=html.escape(title),
        product=PRODUCT_NAME,
        content=content_html,
        footer=html.escape(_FOOTER[lang]),
    )


def text_to_html(text: str) -> str:
    """An HTML fragment showing ``text``: escaped, paragraphs kept, http(s) links clickable."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n".join(
        '<p style="margin:0 0 16px;">'
        + "<br>\n".join(_linkify(line) for line in p.splitlines())
        + "</p>"
        for p in paragraphs
    )


def _linkify(line: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(_TRAILING)
        out.append(html.escape(line[pos : match.start()]))
        href = html.escape(url, quote=True)
        out.append(f'<a href="{href}" style="color:#0b5394;">{href}</a>')
        pos = match.start() + len(url)
    out.append(html.escape(line[pos:]))
    return "".join(out)


def _compile(name: str, part: str, source: Mapping[str, str]) -> dict[str, Template]:
    compiled = {}
    for lang, body in source.items():
        template = Template(body)
        if not template.is_valid():
            raise TemplateError(
                f"mail template {name!r} ({part}, {lang}) has an invalid placeholder;"
                " write $$ for a literal dollar sign"
            )
        compiled[lang] = template
    return compiled


@dataclass(frozen=True)
class RenderedMail:
    """A template filled in for one language: what goes into the mail queue."""

    template: str
    language: str
    subject: str
    # Bodies may hold a single-use link: kept out of repr, so out of logs and tracebacks.
    text: str = field(repr=False)
    html: str = field(repr=False)


@dataclass(frozen=True, eq=False)
class MailTemplate:
    """One kind of message in several languages; English is required, the others optional.

    ``html`` holds HTML fragments (the layout adds the frame); without it the HTML part is made
    from the text. Subjects must stay on one line.
    """

    name: str
    subject: Mapping[str, str]
    text: Mapping[str, str]
    html: Mapping[str, str] | None = None
    _compiled: dict[str, dict[str, Template]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        languages = set(self.subject)
        if DEFAULT_LANGUAGE not in languages:
            raise TemplateError(f"mail template {self.name!r} has no English version")
        parts = {"text": self.text} | ({"html": self.html} if self.html is not None else {})
        for part, source in parts.items():
            if set(source) != languages:
                raise TemplateError(
                    f"mail template {self.name!r}: {part} and subject cover different languages"
                )
        for lang, subject in self.subject.items():
            if "\r" in subject or "\n" in subject:
                raise TemplateError(f"mail template {self.name!r} ({lang}): subject spans lines")
        compiled = {part: _compile(self.name, part, source) for part, source in parts.items()}
        compiled["subject"] = _compile(self.name, "subject", self.subject)
        # Frozen dataclass: the parsed templates are set once, here.
        object.__setattr__(self, "_compiled", compiled)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self.subject)

    @property
    def placeholders(self) -> frozenset[str]:
        """Every ``$name`` the template uses, in any language or part."""
        sources = [*self.subject.values(), *self.text.values(), *(self.html or {}).values()]
        return frozenset(name for s in sources for name in Template(s).get_identifiers())

    def render(self, language: str, values: Mapping[str, str]) -> RenderedMail:
        """Fill the template in ``language`` (English when it is not offered)."""
        lang = resolve_language(language, self.subject)
        plain = {k: str(v) for k, v in values.items()}
        subject = self._fill("subject", lang, plain)
        if "\r" in subject or "\n" in subject:
            raise TemplateError(f"mail template {self.name!r}: a value breaks the subject's line")
        text = self._fill("text", lang, plain)
        if "html" in self._compiled:
            escaped = {k: html.escape(v, quote=True) for k, v in plain.items()}
            fragment = self._fill("html", lang, escaped)
        else:
            fragment = text_to_html(text)
        return RenderedMail(
            template=self.name,
            language=lang,
            subject=subject,
            text=text,
            html=layout(fragment, language=lang, title=subject),
        )

    def _fill(self, part: str, language: str, values: Mapping[str, str]) -> str:
        try:
            return self._compiled[part][language].substitute(values)
        except KeyError as missing:
            raise TemplateError(
                f"mail template {self.name!r} ({part}) needs a value for {missing.args[0]!r}"
            ) from None


class TemplateSet(Mapping[str, MailTemplate]):
    """An immutable collection of templates by name, built once and passed to whoever sends mail.

    Sets combine with ``|`` (a name defined twice is an error), so a service can add its own
    templates to shared ones without either being changed.
    """

    def __init__(self, templates: Iterable[MailTemplate] = ()) -> None:
        by_name: dict[str, MailTemplate] = {}
        for template in templates:
            if template.name in by_name:
                raise TemplateError(f"mail template {template.name!r} is defined twice")
            by_name[template.name] = template
        self._by_name = by_name

    def __getitem__(self, name: str) -> MailTemplate:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no mail template named {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __or__(self, other: TemplateSet) -> TemplateSet:
        return TemplateSet([*self.values(), *other.values()])

    def render(self, name: str, language: str, values: Mapping[str, str]) -> RenderedMail:
        """Render template ``name``; see ``MailTemplate.render``."""
        return self[name].render(language, values)
