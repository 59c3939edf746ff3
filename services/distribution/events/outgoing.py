"""Domain events as the ``kabinet.distribution.v1`` messages and subjects others consume."""

from __future__ import annotations

from google.protobuf.message import Message

from distribution.domain.events import DownloadStarted, Event, ReleasePublished
from kabinet.distribution.v1 import events_pb2
from kabinet.protobuf import timestamp

RELEASE_PUBLISHED = "distribution.release.published"
DOWNLOAD_STARTED = "distribution.download.started"

SUBJECTS = (RELEASE_PUBLISHED, DOWNLOAD_STARTED)


def to_message(event: Event) -> tuple[str, Message]:
    """The subject and protobuf message of a domain event (never a link: links are secrets)."""
    at = timestamp(event.occurred_at)
    match event:
        case ReleasePublished(release=r):
            return RELEASE_PUBLISHED, events_pb2.ReleasePublished(
                release_id=str(r.id),
                application=r.application_id,
                version=r.version,
                channel=r.channel.value,
                occurred_at=at,
            )
        case DownloadStarted(download=d):
            return DOWNLOAD_STARTED, events_pb2.DownloadStarted(
                download_id=str(d.id),
                account_id=str(d.account_id),
                artifact_id=str(d.artifact_id),
                occurred_at=at,
            )
    raise TypeError(f"not an event: {event!r}")
