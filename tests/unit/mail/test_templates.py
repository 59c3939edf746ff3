"""Mail templates: languages, fallback, escaping, and the mistakes they refuse."""

import pytest

from kabinet.mail.templates import (
    MailTemplate,
    TemplateError,
    TemplateSet,
    resolve_language,
    text_to_html,
)

ACTIVATION = MailTemplate(
    name="account.activation",
    subject={"en": "Activate your account, $name", "ru": "Активируйте учётную запись, $name"},
    text={
        "en": "Hello, $name!\n\nOpen $link to activate your account.",
        "ru": "Здравствуйте, $name!\n\nОткройте $link, чтобы активировать учётную запись.",
    },
    html={
        "en": '<p>Hello, $name!</p><p><a href="$link">Activate</a></p>',
        "ru": '<p>Здравствуйте, $name!</p><p><a href="$link">Активировать</a></p>',
    },
)
NOTICE = MailTemplate(
    name="account.notice",
    subject={"en": "Someone tried to register", "ru": "Кто-то пытался зарегистрироваться"},
    text={"en": "Reset: $link", "ru": "Сброс: $link"},
)
VALUES = {"name": "Анна", "link": "https://kabinet.example/activate?t=abc&x=1"}


def test_renders_russian() -> None:
    mail = ACTIVATION.render("ru", VALUES)
    assert mail.language == "ru"
    assert mail.subject == "Активируйте учётную запись, Анна"
    assert mail.text == (
        "Здравствуйте, Анна!\n\n"
        "Откройте https://kabinet.example/activate?t=abc&x=1, чтобы активировать учётную запись."
    )
    assert "Здравствуйте, Анна!" in mail.html
    assert 'lang="ru"' in mail.html


def test_renders_english() -> None:
    mail = ACTIVATION.render("en", VALUES)
    assert mail.subject == "Activate your account, Анна"
    assert mail.text.startswith("Hello, Анна!")
    assert 'lang="en"' in mail.html


@pytest.mark.parametrize("language", ["de", "", "xx-YY", "123"])
def test_unknown_language_falls_back_to_english(language: str) -> None:
    mail = ACTIVATION.render(language, VALUES)
    assert mail.language == "en"
    assert mail.subject.startswith("Activate")


@pytest.mark.parametrize("language", ["ru", "RU", "ru-RU", "ru_RU", " ru "])
def test_language_tags_resolve_to_their_primary_language(language: str) -> None:
    assert resolve_language(language, {"en", "ru"}) == "ru"


def test_values_are_escaped_in_html_only() -> None:
    hostile = {"name": '<script>alert("x")</script>', "link": 'https://e.x/"><img src=x>'}
    mail = ACTIVATION.render("en", hostile)
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in mail.html
    assert '"><img' not in mail.html
    assert 'href="https://e.x/&quot;&gt;&lt;img src=x&gt;"' in mail.html
    # The text part is plain text: nothing to escape there.
    assert '<script>alert("x")</script>' in mail.text


def test_link_query_is_escaped_in_the_html_attribute() -> None:
    mail = ACTIVATION.render("en", VALUES)
    assert 'href="https://kabinet.example/activate?t=abc&amp;x=1"' in mail.html


def test_shared_layout_frames_every_html_part() -> None:
    for template in (ACTIVATION, NOTICE):
        html = template.render("ru", VALUES).html
        assert html.startswith("<!DOCTYPE html>")
        assert "Kabinet" in html
        assert "Это письмо отправлено Kabinet автоматически" in html
        assert "<style" not in html  # inline styles only: mail clients drop style blocks
    assert "This message was sent automatically" in NOTICE.render("en", VALUES).html


def test_html_is_made_from_text_when_the_template_has_none() -> None:
    mail = NOTICE.render("en", {"link": "https://k.example/reset?t=1&u=2 <b>now</b>."})
    assert (
        '<a href="https://k.example/reset?t=1&amp;u=2" style="color:#0b5394;">'
        "https://k.example/reset?t=1&amp;u=2</a> &lt;b&gt;now&lt;/b&gt;." in mail.html
    )
    assert "<b>" not in mail.html


def test_text_to_html_keeps_paragraphs_and_escapes() -> None:
    html = text_to_html("One & two\nthree\n\nSee https://a.example/x.")
    assert html == (
        '<p style="margin:0 0 16px;">One &amp; two<br>\nthree</p>\n'
        '<p style="margin:0 0 16px;">See <a href="https://a.example/x"'
        ' style="color:#0b5394;">https://a.example/x</a>.</p>'
    )


def test_missing_value_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError, match="'link'"):
        ACTIVATION.render("en", {"name": "A"})


def test_line_break_from_a_value_cannot_reach_the_subject() -> None:
    with pytest.raises(TemplateError, match="subject"):
        ACTIVATION.render("en", {"name": "A\r\nBcc: victim@example.com", "link": "x"})


def test_english_is_required() -> None:
    with pytest.raises(TemplateError, match="no English"):
        MailTemplate(name="x", subject={"ru": "Тема"}, text={"ru": "Текст"})


def test_parts_must_cover_the_same_languages() -> None:
    with pytest.raises(TemplateError, match="different languages"):
        MailTemplate(name="x", subject={"en": "S", "ru": "Т"}, text={"en": "T"})


def test_invalid_placeholder_is_refused_at_definition() -> None:
    with pytest.raises(TemplateError, match=r"\$\$"):
        MailTemplate(name="x", subject={"en": "S"}, text={"en": "Costs $5"})
    price = MailTemplate(name="x", subject={"en": "S"}, text={"en": "Costs $$5"})
    assert price.render("en", {}).text == "Costs $5"


def test_multiline_subject_is_refused_at_definition() -> None:
    with pytest.raises(TemplateError, match="spans lines"):
        MailTemplate(name="x", subject={"en": "S\nBcc: x"}, text={"en": "T"})


def test_placeholders_are_listed() -> None:
    assert ACTIVATION.placeholders == {"name", "link"}


def test_template_set_renders_by_name_and_combines() -> None:
    shared = TemplateSet([NOTICE])
    service = TemplateSet([ACTIVATION])
    both = shared | service
    assert set(both) == {"account.notice", "account.activation"}
    assert both.render("account.activation", "ru", VALUES).subject.startswith("Активируйте")
    assert len(shared) == 1  # combining leaves the parts unchanged
    with pytest.raises(KeyError, match=r"account\.missing"):
        both.render("account.missing", "en", {})


def test_template_set_refuses_a_name_twice() -> None:
    with pytest.raises(TemplateError, match="defined twice"):
        TemplateSet([NOTICE]) | TemplateSet([NOTICE])
