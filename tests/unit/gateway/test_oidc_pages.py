"""The provider's pages: escaped, script-free, and the place kept for quick sign-in."""

import pytest

from gateway import oidc_pages


def test_device_page_escapes_what_the_device_says_and_has_no_script() -> None:
    page = oidc_pages.device_confirm_page(
        "en",
        user_code="BCDF-GHJK",
        app="<b>App</b>",
        device_name='"><script>alert(1)</script>',
        platform="windows",
        app_version="1.0",
        scopes=["openid", "custom"],
        csrf="c",
    )
    body = page.content
    assert "<script" not in body
    assert "&lt;script&gt;" in body
    assert "&lt;b&gt;App&lt;/b&gt;" in body
    assert "BCDF-GHJK" in body
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_quick_sign_in_is_offered_once_its_page_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert oidc_pages.quick_sign_in_section("en") == ""
    monkeypatch.setattr(oidc_pages, "QUICK_SIGN_IN_URL", "/account#h-quick")
    section = oidc_pages.quick_sign_in_section("ru")
    assert 'href="/account#h-quick"' in section
    assert "быстрый вход" in section
    done = oidc_pages.device_done_page("en", approved=True).content
    assert 'href="/account#h-quick"' in done
    denied = oidc_pages.device_done_page("en", approved=False).content
    assert "h-quick" not in denied
