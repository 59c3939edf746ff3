"""The local SMTP sink over real SMTP, and the mailbox reader over what it stored."""

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from kabinet.devstack.mailbox import Mailbox, print_latest
from kabinet.devstack.ports import PortInUseError, free_port
from kabinet.devstack.smtp import SmtpSink

pytestmark = pytest.mark.integration


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    server = SmtpSink(tmp_path / "mail", port=free_port())
    server.start()
    yield server
    server.stop()


def message(to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Kabinet <no-reply@kabinet.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


async def send(sink: SmtpSink, msg: EmailMessage, **kwargs: object) -> None:
    await aiosmtplib.send(msg, hostname=sink.host, port=sink.port, timeout=10, **kwargs)  # type: ignore[arg-type]


async def test_stores_a_message_with_its_envelope(sink: SmtpSink) -> None:
    await send(
        sink,
        message("anna@example.com", "Привет, Анна", "Ссылка: https://k.example/a?t=1\n"),
        recipients=["anna@example.com", "hidden@example.com"],
    )
    box = Mailbox(sink.maildir)
    [stored] = box.latest(5)
    assert stored.subject == "Привет, Анна"
    assert stored.recipients == ("anna@example.com", "hidden@example.com")
    assert stored.links == ("https://k.example/a?t=1",)
    # A recipient only on the envelope (Bcc) is found too.
    assert box.find(to="HIDDEN@example.com") == [stored]
    assert box.get(stored.key) == stored


async def test_accepts_smtputf8_addresses_and_8bit_bodies(sink: SmtpSink) -> None:
    msg = message("Пётр <пётр@пример.рф>", "Тема по-русски", "Текст письма без кодирования\n")
    msg.replace_header("Content-Transfer-Encoding", "8bit")
    await send(sink, msg)
    [stored] = Mailbox(sink.maildir).find(to="пётр@пример.рф")
    assert stored.to == "Пётр <пётр@пример.рф>"
    assert stored.recipients == ("пётр@пример.рф",)
    assert stored.text == "Текст письма без кодирования\n"


async def test_find_filters_and_orders(sink: SmtpSink) -> None:
    await send(sink, message("a@example.com", "First", "1"))
    middle = datetime.now(UTC)
    await send(sink, message("b@example.com", "Second, for b", "2"))
    await send(sink, message("a@example.com", "Third", "3"))
    box = Mailbox(sink.maildir)
    assert [m.subject for m in box.all()] == ["First", "Second, for b", "Third"]
    assert [m.subject for m in box.latest(2)] == ["Third", "Second, for b"]
    assert [m.subject for m in box.find(to="a@example.com")] == ["First", "Third"]
    assert [m.subject for m in box.find(since=middle)] == ["Second, for b", "Third"]
    assert [m.subject for m in box.find(subject_contains="FOR B")] == ["Second, for b"]
    found = await box.wait_for("a@example.com", lambda m: m.text.strip() == "3")
    assert found.subject == "Third"
    with pytest.raises(TimeoutError, match=r"nobody@example\.com"):
        await box.wait_for("nobody@example.com", timeout=0.2)
    with pytest.raises(KeyError):
        box.get("no-such-key")


async def test_keeps_mail_across_restarts_and_leaves_no_thread(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    sink = SmtpSink(tmp_path / "mail", port=free_port())
    sink.start()
    assert set(threading.enumerate()) - before  # the server runs on a thread of its own
    await send(sink, message("a@example.com", "Before restart", "1"))
    sink.stop()
    assert set(threading.enumerate()) == before
    sink.start()
    await send(sink, message("a@example.com", "After restart", "2"))
    sink.stop()
    assert set(threading.enumerate()) == before
    subjects = [m.subject for m in Mailbox(sink.maildir).all()]
    assert subjects == ["Before restart", "After restart"]


def test_port_in_use_names_the_variable(sink: SmtpSink, tmp_path: Path) -> None:
    before = set(threading.enumerate())
    second = SmtpSink(tmp_path / "other", port=sink.port)
    with pytest.raises(PortInUseError, match="KABINET_SMTP_PORT"):
        second.start()
    assert not second.running
    assert set(threading.enumerate()) == before


async def test_print_latest_shows_subject_and_links(sink: SmtpSink, tmp_path: Path) -> None:
    out = io.StringIO()
    assert print_latest(tmp_path / "nothing-here", 5, out=out) == 0
    assert "No mail" in out.getvalue()
    await send(sink, message("a@example.com", "Активация", "Откройте https://k.example/x?t=1.\n"))
    out = io.StringIO()
    assert print_latest(sink.maildir, 5, out=out) == 1
    shown = out.getvalue()
    assert "Subject: Активация" in shown
    assert "  https://k.example/x?t=1\n" in shown
    assert "To:      a@example.com" in shown
