"""JetStream streams: one per service, holding every subject that service publishes.

A service's events are ``<service>.<aggregate>.<event>``; its stream captures ``<service>.>``.
Streams are file-backed so that acknowledged events survive a server crash, and they keep a
de-duplication window so that a relay re-publishing after a crash (same ``Nats-Msg-Id``) does not
store an event twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import BadRequestError, NotFoundError

log = logging.getLogger(__name__)

STREAMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "IDENTITY": ("identity.>",),
        "SUBSCRIPTION": ("subscription.>",),
        "DISTRIBUTION": ("distribution.>",),
        "SUPPORT": ("support.>",),
    }
)

DEFAULT_DUPLICATE_WINDOW = 120.0


def stream_config(
    name: str,
    subjects: Iterable[str],
    *,
    replicas: int = 1,
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW,
    max_age: float | None = None,
) -> StreamConfig:
    """The configuration Kabinet wants for an event stream."""
    return StreamConfig(
        name=name,
        subjects=list(subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=duplicate_window,
        max_age=max_age,
    )


def needs_update(current: StreamConfig, wanted: StreamConfig) -> bool:
    """Whether a stream's subjects, replicas or windows differ from what is wanted."""
    return (
        sorted(current.subjects or []) != sorted(wanted.subjects or [])
        or (current.num_replicas or 1) != wanted.num_replicas
        or abs((current.duplicate_window or 0) - (wanted.duplicate_window or 0)) > 1e-6
        or abs((current.max_age or 0) - (wanted.max_age or 0)) > 1e-6
    )


async def ensure_stream(
    js: JetStreamContext,
    name: str,
    subjects: Iterable[str],
    *,
    replicas: int = 1,
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW,
    max_age: float | None = None,
) -> StreamInfo:
    """Create stream ``name`` or bring its subjects, replicas and windows to what is asked.

    Idempotent, so every replica of a service may call it at start-up.
    """
    wanted = stream_config(
        name, subjects, replicas=replicas, duplicate_window=duplicate_window, max_age=max_age
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        try:
            info = await js.add_stream(wanted)
        except BadRequestError:
            # Another replica created it between our look and our create.
            info = await js.stream_info(name)
        else:
            log.info("stream created", extra={"stream": name, "subjects": wanted.subjects})
            return info
    if info.config.storage not in (None, StorageType.FILE):
        log.warning("stream is not file-backed", extra={"stream": name})
    if needs_update(info.config, wanted):
        wanted.storage = info.config.storage or StorageType.FILE
        info = await js.update_stream(wanted)
        log.info("stream updated", extra={"stream": name, "subjects": wanted.subjects})
    return info


async def ensure_streams(
    js: JetStreamContext,
    streams: Mapping[str, Iterable[str]] = STREAMS,
    *,
    replicas: int = 1,
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW,
    max_age: float | None = None,
) -> dict[str, StreamInfo]:
    """Ensure every stream of ``streams`` (by default the four service streams)."""
    return {
        name: await ensure_stream(
            js,
            name,
            subjects,
            replicas=replicas,
            duplicate_window=duplicate_window,
            max_age=max_age,
        )
        for name, subjects in streams.items()
    }
