"""Settings: typed parsing, clear errors naming the variable, and every variable documented."""

import dataclasses
import importlib
from pathlib import Path

import pytest

from kabinet.config import ConfigError, describe, load_settings, setting
from kabinet.devstack.settings import DevstackSettings
from kabinet.settings import CommonSettings, TelemetryExporter

ROOT = Path(__file__).resolve().parents[3]
SERVICE_SETTINGS = {
    "gateway.config": "GatewaySettings",
    "identity.config": "IdentitySettings",
    "subscription.config": "SubscriptionSettings",
    "distribution.config": "DistributionSettings",
    "support.config": "SupportSettings",
}


@dataclasses.dataclass(frozen=True)
class Sample:
    port: int = setting("KABINET_TEST_PORT", 1, "a port")
    ratio: float = setting("KABINET_TEST_RATIO", 0.5, "a ratio")
    enabled: bool = setting("KABINET_TEST_ENABLED", False, "a switch")
    names: tuple[str, ...] = setting("KABINET_TEST_NAMES", (), "a list")
    exporter: TelemetryExporter = setting("KABINET_TEST_EXPORTER", TelemetryExporter.NONE, "")
    path: Path | None = setting("KABINET_TEST_PATH", None, "a path")


def test_values_are_parsed_by_type() -> None:
    loaded = load_settings(
        Sample,
        {
            "KABINET_TEST_PORT": "8080",
            "KABINET_TEST_RATIO": "0.25",
            "KABINET_TEST_ENABLED": "yes",
            "KABINET_TEST_NAMES": "a, b,,c",
            "KABINET_TEST_EXPORTER": "otlp",
            "KABINET_TEST_PATH": "/tmp/x",
        },
    )
    assert loaded == Sample(
        8080, 0.25, True, ("a", "b", "c"), TelemetryExporter.OTLP, Path("/tmp/x")
    )


def test_defaults_apply_when_unset() -> None:
    assert load_settings(Sample, {}) == Sample()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("KABINET_TEST_PORT", "eighty", "expected a whole number"),
        ("KABINET_TEST_RATIO", "half", "expected a number"),
        ("KABINET_TEST_ENABLED", "maybe", "expected true or false"),
        ("KABINET_TEST_EXPORTER", "jaeger", "expected one of none, console, otlp"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_was_expected(
    variable: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(Sample, {variable: value})
    assert variable in str(error.value)
    assert expected in str(error.value)
    assert repr(value) in str(error.value)


def test_nested_groups_are_read_from_the_same_environment() -> None:
    loaded = load_settings(CommonSettings, {"KABINET_IDENTITY_ADDR": "10.0.0.1:1"})
    assert loaded.addresses.identity == "10.0.0.1:1"


def _all_settings() -> list[type]:
    classes: list[type] = [CommonSettings, DevstackSettings]
    for module, name in SERVICE_SETTINGS.items():
        classes.append(getattr(importlib.import_module(module), name))
    return classes


def test_every_variable_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = sorted(
        {env for cls in _all_settings() for env, _, _ in describe(cls) if f"`{env}`" not in readme}
    )
    assert missing == []


def test_every_variable_has_a_description_and_the_prefix() -> None:
    for cls in _all_settings():
        for env, _, doc in describe(cls):
            assert env.startswith("KABINET_"), env
            assert doc, env
