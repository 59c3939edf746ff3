"""Every code the distribution service raises has its English and Russian message, and the
not-entitled message names the application and the plan in both languages."""

from distribution.api.grpc import OPERATOR_METHODS, SERVICE_NAME
from distribution.domain import errors
from kabinet.distribution.v1 import distribution_pb2
from kabinet.messages import CATALOG, translate


def test_every_code_has_both_messages() -> None:
    for code in errors.CODES:
        english, russian = CATALOG[code]
        assert english, code
        assert russian, code
        assert english != russian, code


def test_not_entitled_names_the_plan() -> None:
    error = errors.not_entitled("Kabinet VPN", "Kabinet VPN", "Plus", "Плюс")
    assert "Kabinet VPN" in translate(error.code, "en", error.params)
    assert "Plus" in translate(error.code, "en", error.params)
    assert "«Плюс»" in translate(error.code, "ru", error.params)


def test_operator_methods_are_methods_of_the_service() -> None:
    service = distribution_pb2.DESCRIPTOR.services_by_name["DistributionService"]
    names = {f"/{SERVICE_NAME}/{m.name}" for m in service.methods}
    assert names >= OPERATOR_METHODS
    assert {
        f"/{SERVICE_NAME}/{m}"
        for m in ("UploadArtifact", "PublishRelease", "MarkLatest", "WithdrawRelease")
    } <= OPERATOR_METHODS
    for portal in ("ListDownloads", "CreateDownloadLink", "AuthorizeDownload", "SendToDevice"):
        assert f"/{SERVICE_NAME}/{portal}" not in OPERATOR_METHODS
