"""Accounts for end-to-end tests, made the way a person makes them: through the gateway's API
and the activation mail the SMTP sink received."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from kabinet.devstack.mailbox import Mailbox


async def activated_account(
    http: httpx.AsyncClient, mailbox: Mailbox, email: str, password: str, language: str = "en"
) -> str:
    """Register ``email``, follow its activation mail, sign in; the access token."""
    registered = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "language": language}
    )
    assert registered.status_code == 202, registered.text
    message = await mailbox.wait_for(
        email, lambda m: any("/activate?" in link for link in m.links), timeout=15
    )
    link = next(link for link in message.links if "/activate?" in link)
    token = parse_qs(urlsplit(link).query)["token"][0]
    activated = await http.post("/api/v1/auth/activate", json={"token": token})
    assert activated.status_code == 200, activated.text
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    access: str = login.json()["access_token"]
    return access
