"""The ticket rules: the status machine, reopening, priority and SLA, field and upload checks."""

from datetime import UTC, datetime, timedelta

import pytest

from kabinet.errors import DomainError
from kabinet.messages import CATALOG
from support.domain import errors, rules
from support.domain.model import Priority, Status, Topic, Upload

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
RULES = rules.SupportRules()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


def code_of(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (Status.NEW, Status.IN_PROGRESS),
        (Status.NEW, Status.RESOLVED),
        (Status.IN_PROGRESS, Status.WAITING_FOR_CUSTOMER),
        (Status.WAITING_FOR_CUSTOMER, Status.IN_PROGRESS),
        (Status.WAITING_FOR_CUSTOMER, Status.RESOLVED),
        (Status.RESOLVED, Status.CLOSED),
    ],
)
def test_allowed_transitions(current: Status, wanted: Status) -> None:
    rules.check_transition(current, wanted)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (Status.NEW, Status.CLOSED),
        (Status.NEW, Status.NEW),
        (Status.IN_PROGRESS, Status.NEW),
        (Status.RESOLVED, Status.WAITING_FOR_CUSTOMER),
        (Status.CLOSED, Status.IN_PROGRESS),
        (Status.CLOSED, Status.RESOLVED),
    ],
)
def test_forbidden_transitions(current: Status, wanted: Status) -> None:
    with pytest.raises(DomainError) as exc:
        rules.check_transition(current, wanted)
    assert code_of(exc) == errors.TRANSITION_INVALID


def test_every_status_but_closed_leads_somewhere_and_closed_is_final() -> None:
    assert all(rules.TRANSITIONS[s] for s in Status if s is not Status.CLOSED)
    assert rules.TRANSITIONS[Status.CLOSED] == frozenset()


def test_reopen_within_the_window_only() -> None:
    resolved = NOW - RULES.reopen_window
    rules.check_reopen(Status.RESOLVED, resolved, NOW, RULES)
    rules.check_reopen(Status.CLOSED, resolved, NOW, RULES)
    with pytest.raises(DomainError) as late:
        rules.check_reopen(Status.CLOSED, resolved - timedelta(seconds=1), NOW, RULES)
    assert code_of(late) == errors.REOPEN_EXPIRED
    with pytest.raises(DomainError) as still_open:
        rules.check_reopen(Status.IN_PROGRESS, None, NOW, RULES)
    assert code_of(still_open) == errors.TRANSITION_INVALID


def test_replies_move_the_status() -> None:
    assert rules.status_after_customer_reply(Status.WAITING_FOR_CUSTOMER) is Status.IN_PROGRESS
    assert rules.status_after_customer_reply(Status.NEW) is Status.NEW
    assert rules.status_after_agent_reply(Status.NEW) is Status.IN_PROGRESS
    assert rules.status_after_agent_reply(Status.WAITING_FOR_CUSTOMER) is (
        Status.WAITING_FOR_CUSTOMER
    )
    for closed in (Status.RESOLVED, Status.CLOSED):
        with pytest.raises(DomainError) as exc:
            rules.status_after_customer_reply(closed)
        assert code_of(exc) == errors.TICKET_CLOSED


def test_priority_and_sla_put_premium_first_even_when_younger() -> None:
    assert rules.priority_for(True) is Priority.HIGH
    assert rules.priority_for(False) is Priority.NORMAL
    older = NOW - timedelta(hours=3)
    standard = rules.queue_key(Priority.NORMAL, rules.sla_due(older, Priority.NORMAL, RULES), older)
    premium = rules.queue_key(Priority.HIGH, rules.sla_due(NOW, Priority.HIGH, RULES), NOW)
    assert premium < standard
    assert rules.sla_due(NOW, Priority.HIGH, RULES) == NOW + timedelta(hours=4)
    assert rules.sla_due(NOW, Priority.NORMAL, RULES) == NOW + timedelta(hours=24)


def test_rating_once_after_resolution_from_one_to_five() -> None:
    assert rules.check_rating(Status.RESOLVED, None, 5, " thanks ") == "thanks"
    cases = [
        (Status.IN_PROGRESS, None, 5, errors.RATING_NOT_ALLOWED),
        (Status.RESOLVED, 4, 5, errors.ALREADY_RATED),
        (Status.RESOLVED, None, 0, errors.RATING_INVALID),
        (Status.CLOSED, None, 6, errors.RATING_INVALID),
    ]
    for status, already, rating, code in cases:
        with pytest.raises(DomainError) as exc:
            rules.check_rating(status, already, rating, "")
        assert code_of(exc) == code


def test_ticket_form_reports_every_broken_field() -> None:
    with pytest.raises(DomainError) as exc:
        rules.check_ticket_form("astrology", "app\x00", "x" * 201, "Hi\r\nBcc: a@b.c", "")
    assert code_of(exc) == errors.TICKET_INVALID
    found = {(v.field, v.code) for v in exc.value.violations}
    assert found == {
        ("topic", errors.TOPIC_INVALID),
        ("application", errors.TEXT_INVALID),
        ("device", errors.FIELD_TOO_LONG),
        ("subject", errors.SUBJECT_INVALID),
        ("description", errors.TEXT_REQUIRED),
    }


@pytest.mark.parametrize("subject", ["a\rb", "a\nb", "a\u202eb", "a\u200bb"])
def test_subject_with_line_breaks_or_invisible_characters_is_refused(subject: str) -> None:
    with pytest.raises(DomainError) as exc:
        rules.check_ticket_form("other", "", "", subject, "text")
    assert [v.code for v in exc.value.violations] == [errors.SUBJECT_INVALID]


def test_ticket_form_normalises() -> None:
    form = rules.check_ticket_form(" Payment ", " App ", "", "  Refund  ", "line\r\nnext ")
    assert form.topic is Topic.PAYMENT
    assert (form.application, form.subject, form.description) == ("App", "Refund", "line\nnext")


def test_uploads_are_limited_in_count_size_and_type() -> None:
    small = rules.SupportRules(max_attachment_bytes=64, max_attachments=2)
    checked = rules.check_uploads([Upload("../../a.png", PNG)], small)
    assert [(c.filename, c.content_type) for c in checked] == [("a.png", "image/png")]
    with pytest.raises(DomainError) as many:
        rules.check_uploads([Upload("a.png", PNG)] * 3, small)
    assert code_of(many) == errors.ATTACHMENTS_TOO_MANY
    with pytest.raises(DomainError) as big:
        rules.check_uploads([Upload("a.png", PNG + bytes(64))], small)
    assert code_of(big) == errors.ATTACHMENT_TOO_LARGE
    with pytest.raises(DomainError) as exe:
        rules.check_uploads([Upload("a.png", b"MZ\x90\x00" + bytes(20))], small)
    assert code_of(exe) == errors.ATTACHMENT_TYPE


def test_filenames_lose_paths_and_quoting_characters() -> None:
    assert rules.safe_filename('C:\\x\\"evil";.txt') == "evil.txt"
    assert rules.safe_filename("\x00\r\n") == "attachment"
    assert len(rules.safe_filename("a" * 500)) == rules.MAX_FILENAME


def test_every_support_code_has_both_messages() -> None:
    for code in errors.CODES:
        en, ru = CATALOG[code]
        assert en
        assert ru
        assert en != ru


def test_settings_make_the_rules_and_refuse_nonsense() -> None:
    from kabinet.config import load_settings
    from support.config import SupportSettings

    settings = load_settings(
        SupportSettings, {"KABINET_SUPPORT_REOPEN_DAYS": "3", "KABINET_SUPPORT_SLA_HIGH_HOURS": "2"}
    )
    made = settings.rules()
    assert made.reopen_window == timedelta(days=3)
    assert made.sla_high == timedelta(hours=2)
    bad = load_settings(SupportSettings, {"KABINET_SUPPORT_MAX_ATTACHMENT_BYTES": "0"})
    with pytest.raises(RuntimeError, match="KABINET_SUPPORT_MAX_ATTACHMENT_BYTES"):
        bad.rules()
