"""The stable codes the distribution service answers with (messages:
``kabinet.catalog.distribution``)."""

from __future__ import annotations

from kabinet.errors import DomainError, ErrorKind

NOT_ENTITLED = "download.not_entitled"
LINK_INVALID = "download.link_invalid"
LINK_EXPIRED = "download.link_expired"
LINK_OTHER_ACCOUNT = "download.link_other_account"
APPLICATION_NOT_FOUND = "application.not_found"
ARTIFACT_NOT_FOUND = "artifact.not_found"
RELEASE_NOT_FOUND = "release.not_found"
RELEASE_NOT_DRAFT = "release.not_draft"
RELEASE_NOT_PUBLISHED = "release.not_published"
RELEASE_EMPTY = "release.empty"
VERSION_INVALID = "release.version_invalid"
CHANNEL_INVALID = "release.channel_invalid"
PLATFORM_INVALID = "artifact.platform_invalid"
LANGUAGE_INVALID = "artifact.language_invalid"
FILE_NAME_INVALID = "artifact.file_name_invalid"
CHECKSUM_INVALID = "artifact.checksum_invalid"
CHECKSUM_MISMATCH = "artifact.checksum_mismatch"
TOO_LARGE = "artifact.too_large"
ARTIFACT_EXISTS = "artifact.exists"
STORE_URL_INVALID = "artifact.store_url_invalid"
STORE_URL_PLATFORM = "artifact.store_url_platform"
UPLOAD_HEADER_MISSING = "upload.header_missing"
TOO_MANY_SENDS = "send.too_many"
ACCOUNT_ID_INVALID = "account.id_invalid"  # message shared with subscription's catalog

CODES = (
    NOT_ENTITLED,
    LINK_INVALID,
    LINK_EXPIRED,
    LINK_OTHER_ACCOUNT,
    APPLICATION_NOT_FOUND,
    ARTIFACT_NOT_FOUND,
    RELEASE_NOT_FOUND,
    RELEASE_NOT_DRAFT,
    RELEASE_NOT_PUBLISHED,
    RELEASE_EMPTY,
    VERSION_INVALID,
    CHANNEL_INVALID,
    PLATFORM_INVALID,
    LANGUAGE_INVALID,
    FILE_NAME_INVALID,
    CHECKSUM_INVALID,
    CHECKSUM_MISMATCH,
    TOO_LARGE,
    ARTIFACT_EXISTS,
    STORE_URL_INVALID,
    STORE_URL_PLATFORM,
    UPLOAD_HEADER_MISSING,
    TOO_MANY_SENDS,
    ACCOUNT_ID_INVALID,
)


def invalid(code: str, **params: str) -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, code, params=params)


def not_found(code: str) -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, code)


def precondition(code: str) -> DomainError:
    return DomainError(ErrorKind.FAILED_PRECONDITION, code)


def denied(code: str, **params: str) -> DomainError:
    return DomainError(ErrorKind.PERMISSION_DENIED, code, params=params)


def not_entitled(application: str, application_ru: str, plan: str, plan_ru: str) -> DomainError:
    """Names the application and the cheapest plan that includes it."""
    return denied(
        NOT_ENTITLED,
        application=application,
        application_ru=application_ru,
        plan=plan,
        plan_ru=plan_ru,
    )


def link_expired() -> DomainError:
    # FAILED_PRECONDITION carries it; the gateway answers 410 Gone for this code.
    return DomainError(ErrorKind.FAILED_PRECONDITION, LINK_EXPIRED)


def artifact_exists() -> DomainError:
    return DomainError(ErrorKind.ALREADY_EXISTS, ARTIFACT_EXISTS)


def too_many_sends(retry_after: int) -> DomainError:
    return DomainError(
        ErrorKind.RESOURCE_EXHAUSTED, TOO_MANY_SENDS, params={"retry_after": str(retry_after)}
    )


def too_large(limit: int) -> DomainError:
    return invalid(TOO_LARGE, limit=str(limit))
