from google.protobuf.timestamp_pb2 import Timestamp

from gateway.timestamps import iso


def test_set_timestamp_is_utc_iso_with_z() -> None:
    assert iso(Timestamp(seconds=1_767_322_245)) == "2026-01-02T02:50:45Z"


def test_unset_timestamp_is_empty() -> None:
    assert iso(Timestamp()) == ""
