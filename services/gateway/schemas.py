"""Request and response bodies of the HTTP API (msgspec Structs).

Unknown fields in a request are ignored, so fields such as ``id``, ``role``, ``status`` or
``email_verified`` sent by a client have no effect. Length limits here are generous outer bounds;
the services apply the real rules and answer with specific codes.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Email = Annotated[str, msgspec.Meta(max_length=320, description="email address")]
Password = Annotated[str, msgspec.Meta(max_length=4096, description="password")]
Token = Annotated[str, msgspec.Meta(max_length=512, description="token from an emailed link")]
Language = Literal["ru", "en"]


class RegisterBody(msgspec.Struct):
    email: Email
    password: Password
    language: Language = "en"


class PasswordCheckBody(msgspec.Struct):
    password: Password
    email: Email | None = None


class Violation(msgspec.Struct):
    code: str
    message: str


class PasswordCheckResult(msgspec.Struct):
    ok: bool
    violations: list[Violation]


class TokenBody(msgspec.Struct):
    token: Token


class EmailBody(msgspec.Struct):
    email: Email


class LoginBody(msgspec.Struct):
    email: Email
    password: Password


class RefreshBody(msgspec.Struct):
    refresh_token: Token | None = None


class TokenPasswordBody(msgspec.Struct):
    token: Token
    password: Password


class TokenResponse(msgspec.Struct):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class SessionInfo(msgspec.Struct):
    account_id: str
    session_id: str
    roles: list[str]
    scope: list[str]


class Accepted(msgspec.Struct):
    status: str = "accepted"


class ActivationResult(msgspec.Struct):
    status: str = "activated"


class Account(msgspec.Struct):
    id: str
    email: str
    status: str
    name: str
    language: str
    country: str
    has_password: bool
    roles: list[str]
    created_at: str


class ProfileBody(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    language: Language | None = None
    country: Annotated[str, msgspec.Meta(max_length=2)] | None = None


class ChangePasswordBody(msgspec.Struct):
    current_password: Password
    new_password: Password


class ChangeEmailBody(msgspec.Struct):
    password: Password
    new_email: Email


class PasswordBody(msgspec.Struct):
    password: Password


class Session(msgspec.Struct):
    id: str
    kind: str
    user_agent: str
    ip: str
    created_at: str
    last_seen_at: str
    current: bool


class RevokedCount(msgspec.Struct):
    revoked: int


class PlanPrice(msgspec.Struct):
    region: str
    currency: str
    amount_minor: int


class PlanOption(msgspec.Struct):
    devices: int
    term_months: int
    prices: list[PlanPrice]


class Plan(msgspec.Struct):
    id: str
    tier: str
    name: str
    features: list[str]
    options: list[PlanOption]


class CodeBody(msgspec.Struct):
    code: Annotated[
        str, msgspec.Meta(max_length=64, description="activation code, XXXXX-XXXXX-XXXXX-XXXXX")
    ]


class Subscription(msgspec.Struct):
    id: str
    plan_id: str
    tier: str
    devices: int
    status: str
    features: list[str]
    starts_at: str
    ends_at: str
    # True when the code just redeemed extended this subscription.
    renewed: bool = False
    auto_renew: bool = False
    devices_in_use: int = 0


class Entitlement(msgspec.Struct):
    feature: str
    subscription_id: str
    tier: str
    valid_until: str
