"""Email normalisation: what is accepted, how it is written, and what is the same address."""

import pytest

from identity.domain.emails import MAX_LENGTH, normalise_email, try_normalise_email
from kabinet.errors import DomainError, ErrorKind


@pytest.mark.parametrize(
    ("raw", "address", "key"),
    [
        ("user@example.com", "user@example.com", "user@example.com"),
        ("  User@Example.COM \t", "User@example.com", "user@example.com"),
        (
            "Ivan.Petrov+shop@EXAMPLE.org",
            "Ivan.Petrov+shop@example.org",
            "ivan.petrov+shop@example.org",
        ),
        ("anna@ПРИМЕР.рф", "anna@xn--e1afmkfd.xn--p1ai", "anna@xn--e1afmkfd.xn--p1ai"),
        ("anna@пример.РФ", "anna@xn--e1afmkfd.xn--p1ai", "anna@xn--e1afmkfd.xn--p1ai"),
        ("Анна@пример.рф", "Анна@xn--e1afmkfd.xn--p1ai", "анна@xn--e1afmkfd.xn--p1ai"),
        ("o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk"),
    ],
)
def test_normalised_forms(raw: str, address: str, key: str) -> None:
    email = normalise_email(raw)
    assert (email.address, email.key) == (address, key)


def test_addresses_differing_only_in_case_share_a_key() -> None:
    keys = {normalise_email(v).key for v in ("A@x.example", "a@X.EXAMPLE", " a@x.example ")}
    assert keys == {"a@x.example"}


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "plain",
        "@example.com",
        "user@",
        "user@localhost",
        "user@@example.com",
        "us er@example.com",
        "user@exa mple.com",
        "user\x00@example.com",
        "user@example.com\x00",
        "us\u202eer@example.com",  # right-to-left override
        "us\u200ber@example.com",  # zero-width space
        "us\u200der@example.com",  # zero-width joiner
        "\ufeffuser@example.com",  # byte order mark
        "user\n@example.com",
        "user@example..com",
        "user@.example.com",
        ".user@example.com",
        "us..er@example.com",
        "user@-bad-.example",
        "user@127.0.0.1",
        '"quoted"@example.com',
        "user<x>@example.com",
        "a" * 65 + "@example.com",
        "a@" + "b" * 64 + ".com",
        "a@" + ".".join(["bcdefghij"] * 30) + ".com",
        "x" * 10_000,
    ],
)
def test_invalid_addresses_are_refused(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        normalise_email(raw)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.INVALID_ARGUMENT, "email.invalid")
    assert try_normalise_email(raw) is None


def test_the_length_limit_is_254_characters() -> None:
    domain = ".".join(["a" * 60, "b" * 60, "c" * 60, "dddddd"])  # 189 characters
    fits = "u" * 64 + "@" + domain
    assert len(fits) == MAX_LENGTH
    assert normalise_email(fits).address == fits
    with pytest.raises(DomainError):
        normalise_email(fits + "d")
