"""Every mail identity queues renders in both languages; every code it raises has messages."""

import pytest

from identity.domain import errors
from identity.domain.links import TEMPLATES
from identity.domain.model import Client
from identity.domain.password_policy import PASSWORD_CODES
from identity.events.outgoing import SUBJECTS, to_message
from identity.mail import identity_templates
from kabinet.auth.tokens import TOKEN_INVALID
from kabinet.messages import CATALOG

PASSWORD = "Correct-horse-7"


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_every_queued_mail_renders(services, store, clock, language: str) -> None:
    """Drive every flow that mails, then render each queued mail with the real templates."""
    reg = services.registration
    await reg.register("a@example.com", PASSWORD, language, Client())
    await reg.activate(store.mails[-1].values["link"].split("token=")[1])
    await reg.register("a@example.com", PASSWORD, language, Client())  # already_registered
    await reg.ensure_account_for_purchase("b@example.com", language, "o")  # create_password
    await services.accounts.forgot_password("a@example.com")  # password_reset
    await services.accounts.reset_password(
        store.mails[-1].values["link"].split("token=")[1], "Another-pass-5"
    )  # password_changed
    a = store.account("a@example.com")
    await services.accounts.request_email_change(str(a.id), "Another-pass-5", "c@example.com")
    await services.accounts.confirm_email_change(store.mails[-1].values["link"].split("token=")[1])
    await reg.register("d@example.com", PASSWORD, language, Client())
    d = store.account("d@example.com")
    await services.accounts.request_email_change(str(a.id), "Another-pass-5", "d@example.com")
    for _ in range(3):  # account_locked
        with pytest.raises(errors.DomainError):
            await services.signin.sign_in("c@example.com", "Wrong-pass-1", Client())
    assert d.email == "d@example.com"

    templates = identity_templates()
    queued = {mail.template for mail in store.mails}
    assert queued == set(templates), set(templates) ^ queued
    for mail in store.mails:
        rendered = templates.render(mail.template, mail.language, mail.values)
        assert rendered.language == language
        assert "http" not in rendered.subject
        if "link" in mail.values:
            assert mail.values["link"] in rendered.text
            assert mail.values["link"].startswith("https://portal.kabinet.test/")


def test_every_link_purpose_has_a_template() -> None:
    assert set(TEMPLATES.values()) <= set(identity_templates())


def test_every_code_identity_raises_has_both_messages() -> None:
    codes = {*errors.CODES, errors.PASSWORD_INVALID, TOKEN_INVALID, *PASSWORD_CODES}
    missing = sorted(code for code in codes if code not in CATALOG)
    # The password rules' messages come from their own module; the rest must be here.
    assert set(missing) <= set(PASSWORD_CODES), missing
    for code in codes - set(PASSWORD_CODES):
        english, russian = CATALOG[code]
        assert english.strip()
        assert russian.strip()
        assert english != russian


def test_every_social_sign_in_code_has_both_messages() -> None:
    from identity.domain.federation import CODES as SOCIAL_CODES

    for code in SOCIAL_CODES:
        english, russian = CATALOG[code]
        assert english.strip()
        assert russian.strip()
        assert english != russian


def test_every_event_has_its_subject() -> None:
    import uuid
    from datetime import UTC, datetime

    from identity.domain import events as e

    now = datetime(2030, 1, 1, tzinfo=UTC)
    account = uuid.uuid4()
    samples = [
        e.AccountRegistered(account, "a@example.com", "en", now),
        e.AccountActivated(account, "a@example.com", now),
        e.AccountCreatedForPurchase(account, "a@example.com", "o-1", now),
        e.PasswordChanged(account, e.PasswordChangeReason.RESET, now),
        e.SessionRevoked(account, uuid.uuid4(), e.RevocationReason.REPLAY, now),
        e.AccountDeleted(account, now),
        e.IdentityLinked(account, "google", now),
        e.IdentityUnlinked(account, "google", now),
        e.DeviceConnected(account, uuid.uuid4(), "Laptop", "windows", "app", "1.0", now),
        e.DeviceDisconnected(account, uuid.uuid4(), "by_owner", now),
    ]
    subjects = []
    for sample in samples:
        subject, message = to_message(sample)
        subjects.append(subject)
        assert message.account_id == str(account)
        assert message.occurred_at.ToDatetime(UTC) == now
    assert subjects == list(SUBJECTS)
