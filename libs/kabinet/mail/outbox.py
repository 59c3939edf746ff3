"""Queueing mail in the caller's transaction, so it goes out if and only if the change commits.

The row holds the rendered subject and bodies. Bodies may carry a single-use link (the token
itself is stored only hashed, by the service that issued it), so the queue keeps them only until
the message is sent or given up: ``MailSender`` then sets both body columns to NULL, and the table's
CHECK constraint refuses a finished row that still has them. Never put a secret in a subject: the
subject stays as the record of what was sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg

from kabinet.mail.message import check_address
from kabinet.mail.templates import TemplateSet


async def enqueue_mail(
    conn: asyncpg.Connection,
    templates: TemplateSet,
    *,
    to: str,
    template: str,
    language: str,
    values: Mapping[str, str],
) -> uuid.UUID:
    """Render ``template`` for ``to`` now and queue it inside the open transaction on ``conn``.

    ``conn`` is a connection (or pooled connection) working in the service's schema.

    Refuses to run outside a transaction: a mail queued on its own could go out for a change that
    then rolls back, or be lost for one that commits.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("enqueue_mail must run inside the transaction of the change it reports")
    check_address(to)
    rendered = templates.render(template, language, values)
    mail_id = await conn.fetchval(
        "INSERT INTO mail_outbox (to_address, template, language, subject, body_text, body_html)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        to,
        rendered.template,
        rendered.language,
        rendered.subject,
        rendered.text,
        rendered.html,
    )
    assert isinstance(mail_id, uuid.UUID)
    return mail_id
