"""Outgoing mail: templates, a queue written in the caller's transaction, and the SMTP sender.

A service defines its templates (``MailTemplate`` in Russian and English) in its own package,
queues a message with ``enqueue_mail`` in the same transaction as the change it reports, and runs
one ``MailSender`` per process to deliver the queue. See ``kabinet.mail.outbox`` for why message
bodies are dropped from the queue once delivered.
"""

from kabinet.mail.outbox import enqueue_mail
from kabinet.mail.sender import MailSender
from kabinet.mail.smtp import SmtpEndpoint, SmtpUrlError, parse_smtp_url
from kabinet.mail.templates import MailTemplate, RenderedMail, TemplateError, TemplateSet

__all__ = [
    "MailSender",
    "MailTemplate",
    "RenderedMail",
    "SmtpEndpoint",
    "SmtpUrlError",
    "TemplateError",
    "TemplateSet",
    "enqueue_mail",
    "parse_smtp_url",
]
