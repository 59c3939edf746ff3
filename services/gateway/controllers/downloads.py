"""/api/v1/downloads and /get/{application}: what the signed-in person may download, signed
links, the download itself, and sending an application to another device (email or QR code).

A download is authorised by distribution (it checks the signed link in constant time, the account
and the entitlement, and records the download); the gateway then streams the bytes from the
object store itself — from the file on disk when the store is local — instead of passing them
through distribution over gRPC. The link travels in the query parameter ``sig``, which no log
line of ours records (errors log the path only) and which OpenTelemetry redacts from span URLs.
"""

from __future__ import annotations

import asyncio
import html
import io
import logging
import re
from typing import Any
from urllib.parse import quote

import grpc
import msgspec
import segno
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Stream

from gateway.auth import Principal, set_session_cookies
from gateway.clients import ServiceClients
from gateway.downloads_schemas import (
    ApplicationOut,
    ArtifactOut,
    DownloadsOut,
    LinkBody,
    LinkOut,
    ReleaseOut,
    RequiredPlan,
    SendBody,
    SentOut,
)
from gateway.filesend import file_response
from gateway.pages import html_page
from gateway.timestamps import iso
from kabinet.auth.tokens import InvalidToken
from kabinet.distribution.v1 import distribution_pb2 as pb
from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import identity_pb2
from kabinet.messages import translate
from kabinet.objectstore import ObjectStore
from kabinet.rpc.errors import domain_error_from_rpc

log = logging.getLogger(__name__)

_PLATFORMS = {
    "windows": pb.PLATFORM_WINDOWS,
    "macos": pb.PLATFORM_MACOS,
    "linux": pb.PLATFORM_LINUX,
    "android": pb.PLATFORM_ANDROID,
    "ios": pb.PLATFORM_IOS,
}
_PLATFORM_NAMES = {v: k for k, v in _PLATFORMS.items()}
_CHANNELS = {pb.CHANNEL_STABLE: "stable", pb.CHANNEL_BETA: "beta"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


def _platform(name: str | None) -> pb.Platform.ValueType:
    if not name:
        return pb.PLATFORM_UNSPECIFIED
    if name not in _PLATFORMS:
        raise DomainError(ErrorKind.INVALID_ARGUMENT, "artifact.platform_invalid")
    return _PLATFORMS[name]


def _artifact(a: pb.Artifact) -> ArtifactOut:
    return ArtifactOut(
        id=a.id,
        platform=_PLATFORM_NAMES.get(a.platform, "unknown"),
        language=a.language,
        file_name=a.file_name,
        size=a.size,
        sha256=a.sha256,
        store_url=a.store_url,
    )


def application_out(app: pb.Application, language: str) -> ApplicationOut:
    plan = app.required_plan if app.HasField("required_plan") else None
    recommended = app.recommended if app.HasField("recommended") else None
    version = next((r.version for r in app.releases if r.id == app.recommended_release_id), "")
    return ApplicationOut(
        id=app.id,
        name=app.name_ru if language == "ru" else app.name,
        entitled=app.entitled,
        required_plan=(
            RequiredPlan(id=plan.id, name=plan.name_ru if language == "ru" else plan.name)
            if plan
            else None
        ),
        releases=[
            ReleaseOut(
                id=r.id,
                version=r.version,
                channel=_CHANNELS.get(r.channel, "unknown"),
                published_at=iso(r.published_at),
                artifacts=[_artifact(a) for a in r.artifacts],
            )
            for r in app.releases
        ],
        recommended=_artifact(recommended) if recommended else None,
        recommended_version=version,
    )


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end_exclusive)`` of a single ``bytes=`` range, None for the whole file;
    ``ValueError`` when it cannot be satisfied. Several ranges are answered with the whole file."""
    if not header or "," in header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            raise ValueError(header)
        return max(0, size - length), size
    start = int(first)
    end = size if last == "" else min(size, int(last) + 1)
    if start >= size or (last != "" and int(last) < start):
        raise ValueError(header)
    return start, end


def content_disposition(file_name: str) -> str:
    plain = _UNSAFE_FILENAME.sub("_", file_name) or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(file_name)}"


def _qr_image(url: str, fmt: str) -> bytes:
    """Encoding a QR code (and compressing a PNG) is CPU work: callers run it in a thread."""
    code = segno.make(url, error="m")
    out = io.BytesIO()
    if fmt == "png":
        code.save(out, kind="png", scale=6, border=4)
    else:
        code.save(out, kind="svg", scale=6, border=4, xmldecl=False)
    return out.getvalue()


class DownloadsController(Controller):
    path = "/api/v1/downloads"
    tags = ["downloads"]  # noqa: RUF012
    request_max_body_size = 4096

    @get("/", summary="Applications the account may download, with the recommended installers")
    async def list_downloads(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
        platform: FromQuery[str | None] = None,
    ) -> DownloadsOut:
        """The platform comes from ``?platform=``, else ``Sec-CH-UA-Platform``, else the
        User-Agent."""
        reply = await clients.distribution.ListDownloads(
            pb.ListDownloadsRequest(
                account_id=principal.account_id,
                platform=_platform(platform),
                user_agent=request.headers.get("user-agent", "")[:512],
                platform_hint=request.headers.get("sec-ch-ua-platform", "")[:64],
                language=language,
            )
        )
        return DownloadsOut(
            platform=_PLATFORM_NAMES.get(reply.platform, ""),
            applications=[application_out(a, language) for a in reply.applications],
        )

    @post("/links", status_code=200, summary="A signed download link (minutes) for one installer")
    async def create_link(
        self,
        data: JSONBody[LinkBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> Response[LinkOut]:
        reply = await clients.distribution.CreateDownloadLink(
            pb.CreateDownloadLinkRequest(
                account_id=principal.account_id, artifact_id=data.artifact_id
            )
        )
        body = LinkOut(
            url=reply.url, expires_at=iso(reply.expires_at), artifact=_artifact(reply.artifact)
        )
        return Response(body, headers={"Cache-Control": "no-store"})

    @get("/file", summary="Download an installer by its signed link (Range supported)")
    async def download(
        self,
        request: Request[Any, Any, Any],
        state: State,
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        sig: FromQuery[str] = "",
    ) -> Response[Any]:
        """Authorised by distribution, streamed from the object store."""
        wanted = request.headers.get("range")
        first = _RANGE.match(wanted.strip()) if wanted else None
        start_hint = int(first.group(1)) if first and first.group(1) else 0
        reply = await clients.distribution.AuthorizeDownload(
            pb.AuthorizeDownloadRequest(
                link=sig[:512], account_id=principal.account_id, range_start=start_hint
            )
        )
        artifact = reply.artifact
        size = artifact.size
        etag = f'"{artifact.sha256}"'
        headers = {
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Content-Disposition": content_disposition(artifact.file_name),
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        }
        if_range = request.headers.get("if-range")
        if if_range is not None and if_range.strip() != etag:
            wanted = None  # the file changed since the client's copy: send it whole
        try:
            span = parse_range(wanted, size)
        except ValueError:
            return Response(
                b"", status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"}
            )
        start, end = span or (0, size)
        status = 200
        if span is not None:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        headers["Content-Length"] = str(end - start)
        store: ObjectStore = state.objects
        path = store.local_path(reply.object_key)
        if path is None and await store.stat(reply.object_key) is None:
            # Recorded in the catalog but gone from the store: say so before any byte is sent.
            log.error("artifact missing from the object store", extra={"artifact": artifact.id})
            raise DomainError(ErrorKind.NOT_FOUND, "artifact.not_found")
        media_type = reply.content_type or "application/octet-stream"
        if path is not None:
            return file_response(
                request.scope,
                str(path),
                start,
                end,
                size,
                status_code=status,
                headers=headers,
                media_type=media_type,
            )
        return Stream(
            store.read(reply.object_key, start=start, end=end),
            status_code=status,
            headers=headers,
            media_type=media_type,
        )

    @post("/send", status_code=202, summary="Email a link to install an application elsewhere")
    async def send_to_device(
        self,
        data: JSONBody[SendBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
    ) -> SentOut:
        """The link goes to the account's own address; it opens a page that asks to sign in."""
        account = await clients.identity.GetAccount(
            identity_pb2.GetAccountRequest(account_id=principal.account_id)
        )
        await clients.distribution.SendToDevice(
            pb.SendToDeviceRequest(
                account_id=principal.account_id,
                email=account.account.email,
                language=account.account.language or language,
                application_id=data.application_id,
                platform=_platform(data.platform),
            )
        )
        return SentOut(sent_to=account.account.email)

    @get("/qr", summary="A QR code (SVG or PNG) of the link to install an application elsewhere")
    async def qr_code(
        self,
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        application_id: FromQuery[str],
        platform: FromQuery[str | None] = None,
        format: FromQuery[str] = "svg",
    ) -> Response[bytes]:
        if format not in ("svg", "png"):
            raise DomainError(ErrorKind.INVALID_ARGUMENT, "request.invalid")
        reply = await clients.distribution.GetDeviceLink(
            pb.GetDeviceLinkRequest(
                application_id=application_id[:64], platform=_platform(platform)
            )
        )
        image = await asyncio.to_thread(_qr_image, reply.url, format)
        media = "image/png" if format == "png" else "image/svg+xml"
        return Response(image, media_type=media, headers={"Cache-Control": "no-store"})


_PAGE = {
    "en": {
        "title": "Install {app}",
        "sign_in": "Sign in to Kabinet to get {app} for this device.",
        "email": "Email",
        "password": "Password",
        "button": "Sign in",
        "download": "Download {file} ({size} MB)",
        "store": "Open the store listing",
        "none": "There is no {app} installer for this device yet.",
        "failed": "That did not work",
    },
    "ru": {
        "title": "Установка {app}",
        "sign_in": "Войдите в Kabinet, чтобы получить {app} для этого устройства.",
        "email": "Электронная почта",
        "password": "Пароль",
        "button": "Войти",
        "download": "Скачать {file} ({size} МБ)",
        "store": "Открыть страницу в магазине приложений",
        "none": "Установочного файла {app} для этого устройства пока нет.",
        "failed": "Не получилось",
    },
}


class SignInForm(msgspec.Struct):
    email: str
    password: str
    platform: str = ""


class InstallerPageController(Controller):
    """The page an emailed or scanned link opens on the other device."""

    path = "/get"
    include_in_schema = False
    request_max_body_size = 16_384

    async def _page(
        self,
        request: Request[Any, Any, Any],
        clients: ServiceClients,
        language: str,
        application_id: str,
        platform: str,
        account_id: str | None,
        error: str = "",
    ) -> Response[str]:
        t = _PAGE[language]
        listing = await clients.distribution.ListDownloads(
            pb.ListDownloadsRequest(
                account_id=account_id or "",
                platform=_platform(platform if platform in _PLATFORMS else None),
                user_agent=request.headers.get("user-agent", "")[:512],
                platform_hint=request.headers.get("sec-ch-ua-platform", "")[:64],
                language=language,
            )
        )
        app = next((a for a in listing.applications if a.id == application_id), None)
        if app is None:
            raise DomainError(ErrorKind.NOT_FOUND, "application.not_found")
        name = html.escape(app.name_ru if language == "ru" else app.name)
        title = t["title"].format(app=name)
        if account_id is None:
            body = (
                f"<h1>{title}</h1>{error}<p>{t['sign_in'].format(app=name)}</p>"
                f'<form method="post" action="/get/{quote(app.id)}">'
                f'<input type="hidden" name="platform" value="{html.escape(platform)}">'
                f'<p><label for="email">{t["email"]}</label><br>'
                '<input id="email" name="email" type="email" autocomplete="email" required></p>'
                f'<p><label for="password">{t["password"]}</label><br>'
                '<input id="password" name="password" type="password" required></p>'
                f'<button type="submit">{t["button"]}</button></form>'
            )
            return html_page(title, body, lang=language)
        if not app.entitled:
            plan = app.required_plan
            detail = translate(
                "download.not_entitled",
                language,
                {
                    "application": app.name,
                    "application_ru": app.name_ru,
                    "plan": plan.name,
                    "plan_ru": plan.name_ru,
                },
            )
            return html_page(title, f"<h1>{title}</h1><p>{html.escape(detail)}</p>", lang=language)
        if not app.HasField("recommended"):
            return html_page(title, f"<h1>{title}</h1><p>{t['none'].format(app=name)}</p>")
        link = await clients.distribution.CreateDownloadLink(
            pb.CreateDownloadLinkRequest(account_id=account_id, artifact_id=app.recommended.id)
        )
        artifact = app.recommended
        label = (
            t["store"]
            if artifact.store_url
            else t["download"].format(
                file=html.escape(artifact.file_name), size=f"{artifact.size / 1048576:.1f}"
            )
        )
        anchor = f'<p><a id="download" href="{html.escape(link.url)}">{label}</a></p>'
        checksum = (
            ""
            if artifact.store_url
            else f"<p>SHA-256: <code>{html.escape(artifact.sha256)}</code></p>"
        )
        body = f"<h1>{title}</h1>{anchor}{checksum}"
        return html_page(title, body, lang=language)

    @get("/{application_id:str}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        state: State,
        application_id: FromPath[str],
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
        platform: FromQuery[str] = "",
    ) -> Response[str]:
        principal = None
        try:
            principal = await state.authenticator.principal(request)
        except (InvalidToken, DomainError):  # a stale cookie: ask to sign in again
            principal = None
        return await self._page(
            request,
            clients,
            language,
            application_id[:64],
            platform[:16],
            principal.account_id if principal else None,
        )

    @post("/{application_id:str}", status_code=200)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        state: State,
        application_id: FromPath[str],
        data: URLEncodedBody[SignInForm],
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
        language: NamedDependency[str],
    ) -> Response[str]:
        """Sign in (same checks as the API) and show the installer for this device."""
        origin = request.headers.get("origin")
        if origin is not None and origin not in state.allowed_origins:
            raise DomainError(ErrorKind.PERMISSION_DENIED, "auth.csrf_failed")
        try:
            signed_in = await clients.identity.SignIn(
                identity_pb2.SignInRequest(
                    email=data.email[:320], password=data.password[:4096], client=client_info
                )
            )
        except grpc.aio.AioRpcError as exc:
            error = domain_error_from_rpc(exc)
            alert = (
                f'<div role="alert"><p><strong>{_PAGE[language]["failed"]}:</strong> '
                f"{html.escape(translate(error.code, language, error.params))}</p></div>"
            )
            page = await self._page(
                request, clients, language, application_id[:64], data.platform[:16], None, alert
            )
            page.status_code = 503 if error.kind is ErrorKind.UNAVAILABLE else 400
            return page
        page = await self._page(
            request,
            clients,
            language,
            application_id[:64],
            data.platform[:16],
            signed_in.account_id,
        )
        set_session_cookies(
            page,
            access_token=signed_in.access_token,
            refresh_token=signed_in.refresh_token,
            expires_in=signed_in.expires_in,
        )
        return page
