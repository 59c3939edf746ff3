"""Settings of the support service: one typed struct, every knob named by its variable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kabinet.config import setting
from kabinet.objectstore.config import ObjectStoreSettings
from kabinet.settings import CommonSettings
from support.domain.rules import SupportRules


@dataclass(frozen=True)
class SupportSettings:
    """Everything ``python -m support`` reads from the environment."""

    common: CommonSettings
    # Attachments are kept under tickets/ in the object store distribution also uses.
    objects: ObjectStoreSettings = ObjectStoreSettings()  # noqa: RUF009 - frozen settings
    max_attachment_bytes: int = setting(
        "KABINET_SUPPORT_MAX_ATTACHMENT_BYTES", 1_048_576, "largest attachment accepted, bytes"
    )
    max_attachments: int = setting(
        "KABINET_SUPPORT_MAX_ATTACHMENTS", 3, "most attachments on one ticket or reply"
    )
    reopen_days: int = setting(
        "KABINET_SUPPORT_REOPEN_DAYS", 14, "days after resolution in which the owner may reopen"
    )
    sla_high_hours: int = setting(
        "KABINET_SUPPORT_SLA_HIGH_HOURS", 4, "first-answer SLA of priority (Premium) tickets, hours"
    )
    sla_normal_hours: int = setting(
        "KABINET_SUPPORT_SLA_NORMAL_HOURS", 24, "first-answer SLA of other tickets, hours"
    )
    rpc_timeout: float = setting(
        "KABINET_SUPPORT_RPC_TIMEOUT",
        2.0,
        "deadline of support's calls to identity and subscription, seconds",
    )

    def rules(self) -> SupportRules:
        """The domain's rules; a value that makes no sense stops start-up, naming its variable."""
        for name, value, least in (
            ("KABINET_SUPPORT_MAX_ATTACHMENT_BYTES", self.max_attachment_bytes, 1),
            ("KABINET_SUPPORT_MAX_ATTACHMENTS", self.max_attachments, 0),
            ("KABINET_SUPPORT_REOPEN_DAYS", self.reopen_days, 0),
            ("KABINET_SUPPORT_SLA_HIGH_HOURS", self.sla_high_hours, 1),
            ("KABINET_SUPPORT_SLA_NORMAL_HOURS", self.sla_normal_hours, 1),
        ):
            if value < least:
                raise RuntimeError(f"{name} must be at least {least}")
        return SupportRules(
            sla_high=timedelta(hours=self.sla_high_hours),
            sla_normal=timedelta(hours=self.sla_normal_hours),
            reopen_window=timedelta(days=self.reopen_days),
            max_attachment_bytes=self.max_attachment_bytes,
            max_attachments=self.max_attachments,
        )
