"""The contracts in proto/ follow the buf style, and the committed Python matches them."""

import importlib

import pytest
from google.protobuf.descriptor import FileDescriptor

from kabinet import protogen

SERVICES = ("identity", "subscription", "distribution", "support")


def _files() -> list[FileDescriptor]:
    files = []
    for path in protogen.proto_files():
        module = path.relative_to(protogen.PROTO_ROOT).with_suffix("").as_posix()
        files.append(importlib.import_module(module.replace("/", ".") + "_pb2").DESCRIPTOR)
    return files


def test_generated_code_is_not_stale() -> None:
    assert protogen.stale_files() == []


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_its_versioned_package_with_events(service: str) -> None:
    names = {f.name for f in _files()}
    assert f"kabinet/{service}/v1/{service}.proto" in names
    assert f"kabinet/{service}/v1/events.proto" in names


def test_package_matches_directory_and_ends_in_a_version() -> None:
    for file in _files():
        directory = file.name.rsplit("/", 1)[0]
        assert file.package == directory.replace("/", "."), file.name
        assert file.package.endswith(".v1")


def test_services_rpcs_and_enums_follow_the_style() -> None:
    for file in _files():
        for service in file.services_by_name.values():
            assert service.name.endswith("Service")
            for method in service.methods:
                assert method.input_type.name == f"{method.name}Request", method.full_name
                # SignIn-like RPCs may share one response shape; everything else has its own.
                assert method.output_type.name in (f"{method.name}Response", "SignInResponse")
        for enum in file.enum_types_by_name.values():
            zero = enum.values_by_number[0].name
            prefix = "".join("_" + c if c.isupper() else c for c in enum.name).lstrip("_").upper()
            assert zero == f"{prefix}_UNSPECIFIED", enum.full_name
