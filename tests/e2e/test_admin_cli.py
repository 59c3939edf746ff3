"""``kabinet-admin`` against the in-process cluster: plans and prices, activation codes and OAuth
clients, each command run the way an operator runs it (an operator token signed with identity's
key, read with the database credentials), its effect seen through the gateway."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest

from kabinet import admin
from kabinet.testing.cluster import Cluster
from tests.e2e.oidc_support import active_account, sign_in


@pytest.fixture
def operator_env(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "KABINET_IDENTITY_ADDR",
        "KABINET_SUBSCRIPTION_ADDR",
        "KABINET_DATABASE_URL",
        "KABINET_PUBLIC_URL",
    ):
        monkeypatch.setenv(name, cluster.environ[name])


async def _admin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(admin.main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def _on_sale(http: httpx.AsyncClient, plan_id: str) -> dict[str, object] | None:
    plans = (await http.get("/api/v1/plans", params={"region": "RU"})).json()
    return next((p for p in plans if p["id"] == plan_id), None)


@pytest.mark.usefixtures("operator_env")
async def test_operators_create_price_and_withdraw_plans_and_issue_codes(
    cluster: Cluster,
    http: httpx.AsyncClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan_id = f"family_{uuid.uuid4().hex[:6]}"
    plan = {
        "id": plan_id,
        "tier": "TIER_PLUS",
        "name": "Family",
        "name_ru": "Семейный",
        "features": ["antivirus", "vpn"],
        "on_sale": False,
        "options": [
            {
                "devices": 5,
                "term_months": 12,
                "prices": [{"region": "US", "currency": "USD", "amount_minor": 6999}],
            }
        ],
    }
    saved_file = tmp_path / "plan.json"
    saved_file.write_text(json.dumps(plan), encoding="utf-8")
    code, out, err = await _admin(capsys, "plans", "save", str(saved_file))
    assert code == 0, err
    assert out.startswith(f"{plan_id}  plus off sale  Family / Семейный")
    assert await _on_sale(http, plan_id) is None
    try:
        code, out, err = await _admin(
            capsys, "plans", "price", plan_id, "5", "12", "ru", "rub", "499000"
        )
        assert code == 0, err
        assert "[5x12m RU 499000 RUB, US 6999 USD]" in out
        assert (await _admin(capsys, "plans", "on-sale", plan_id))[0] == 0
        public = await _on_sale(http, plan_id)
        assert public is not None
        assert public["options"] == [
            {
                "devices": 5,
                "term_months": 12,
                "prices": [{"region": "RU", "currency": "RUB", "amount_minor": 499000}],
            }
        ]
        code, out, err = await _admin(capsys, "plans", "list", "--region", "RU")
        assert code == 0, err
        assert any(line.startswith(f"{plan_id}  plus on sale") for line in out.splitlines())

        # Codes for the new plan, printed once; one of them makes a subscriber.
        code, out, err = await _admin(capsys, "codes", "issue", plan_id, "5", "12", "3")
        assert code == 0, err
        header, *codes = out.splitlines()
        assert header.endswith(": 3 codes")
        assert len(set(codes)) == 3
        email = await active_account(cluster, http)
        auth = {"authorization": f"Bearer {(await sign_in(http, email))['access_token']}"}
        redeemed = await http.post(
            "/api/v1/subscriptions/codes", json={"code": codes[0]}, headers=auth
        )
        assert redeemed.status_code == 200, redeemed.text
        mine = (await http.get("/api/v1/subscriptions", headers=auth)).json()
        assert [(s["plan_id"], s["devices"]) for s in mine] == [(plan_id, 5)]

        # show prints what save reads: a round trip changes nothing.
        code, out, err = await _admin(capsys, "plans", "show", plan_id)
        assert code == 0, err
        assert json.loads(out)["onSale"] is True
        saved_file.write_text(out, encoding="utf-8")
        code, again, _ = await _admin(capsys, "plans", "save", str(saved_file))
        assert code == 0, err
        assert "RU 499000 RUB" in again
    finally:
        assert (await _admin(capsys, "plans", "off-sale", plan_id))[0] == 0
    assert await _on_sale(http, plan_id) is None

    # Refusals are the service's, with their gRPC status; nothing is printed to stdout.
    code, out, err = await _admin(
        capsys, "plans", "price", "no-such-plan", "1", "12", "RU", "RUB", "100"
    )
    assert code == 1
    assert out == ""
    assert err.startswith("error: NOT_FOUND")
    code, _, err = await _admin(capsys, "codes", "issue", "no-such-plan", "1", "12", "1")
    assert code == 1
    assert err.startswith("error: NOT_FOUND")
    saved_file.write_text("{not json", encoding="utf-8")
    code, _, err = await _admin(capsys, "plans", "save", str(saved_file))
    assert code == 1
    assert err.startswith("error:")


@pytest.mark.usefixtures("operator_env")
async def test_operators_register_update_list_and_disable_clients(
    http: httpx.AsyncClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client_id = f"backend-{uuid.uuid4().hex[:8]}"
    client = {
        "client_id": client_id,
        "name": "Product backend",
        "confidential": True,
        "grant_types": ["client_credentials"],
        "scopes": ["kabinet.entitlements.read"],
    }
    path = tmp_path / "client.json"
    path.write_text(json.dumps(client), encoding="utf-8")
    code, out, err = await _admin(capsys, "clients", "register", str(path))
    assert code == 0, err
    described, secret_line = out.splitlines()
    assert described.startswith(f"{client_id}  Product backend  (confidential)")
    secret = secret_line.rsplit(": ", 1)[1]
    assert len(secret) >= 43

    def token() -> dict[str, str]:
        return {"grant_type": "client_credentials"}

    issued = await http.post("/oauth2/token", data=token(), auth=(client_id, secret))
    assert issued.status_code == 200, issued.text

    # The secret is shown once: listing and updating never print it again.
    client["name"] = "Product backend v2"
    path.write_text(json.dumps(client), encoding="utf-8")
    code, out, err = await _admin(capsys, "clients", "update", str(path))
    assert code == 0, err
    assert "Product backend v2" in out
    assert secret not in out
    code, out, err = await _admin(capsys, "clients", "list")
    assert code == 0, err
    (line,) = [line for line in out.splitlines() if line.startswith(client_id)]
    assert "Product backend v2" in line
    assert "DISABLED" not in line
    assert secret not in out
    again = await http.post("/oauth2/token", data=token(), auth=(client_id, secret))
    assert again.status_code == 200

    code, out, err = await _admin(capsys, "clients", "disable", client_id)
    assert (code, out.strip()) == (0, f"{client_id} disabled")
    refused = await http.post("/oauth2/token", data=token(), auth=(client_id, secret))
    assert refused.status_code == 401
    code, out, err = await _admin(capsys, "clients", "list")
    assert "DISABLED" in next(line for line in out.splitlines() if line.startswith(client_id))
    # An update that does not mention "disabled" keeps the client disabled; one that says so
    # enables it again.
    code, out, err = await _admin(capsys, "clients", "update", str(path))
    assert code == 0, err
    assert "DISABLED" in out
    still = await http.post("/oauth2/token", data=token(), auth=(client_id, secret))
    assert still.status_code == 401
    path.write_text(json.dumps({**client, "disabled": False}), encoding="utf-8")
    code, out, err = await _admin(capsys, "clients", "update", str(path))
    assert code == 0, err
    assert "DISABLED" not in out
    enabled = await http.post("/oauth2/token", data=token(), auth=(client_id, secret))
    assert enabled.status_code == 200, enabled.text

    # A second registration of the same id is refused by identity.
    code, _, err = await _admin(capsys, "clients", "register", str(path))
    assert code == 1
    assert err.startswith("error: ")
