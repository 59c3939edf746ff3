"""Password costs on one core: argon2id with the default (OWASP) parameters, and the policy check.

Each measure runs one operation at a time in this process, pinned to one CPU where the platform
allows it (the hasher's worker thread is started inside the pinned section, so it shares that
CPU), and reports operations per second with the p50/p99 latency of a single operation.

* bare argon2id verify and hash with argon2-cffi on the calling thread: the ceiling;
* ``PasswordHasher.verify`` and ``verify_dummy`` awaited through the hasher's pool (one worker):
  the same work plus the hop off the event loop, shown as a share of the bare rate;
* ``check_password`` over a mixed set of passwords, on a 256-character one (the longest
  accepted), and on a 1 MB one (refused before any costly check).

Run with ``python -m bench.passwords``.
"""

from __future__ import annotations

import asyncio
import random
import string
from itertools import cycle

import argon2

from bench.common import Row, measure, measure_async, one_core, print_table
from identity.domain.password_hashing import Argon2Params, PasswordHasher
from identity.domain.password_policy import check_password

VERIFY_OPERATIONS = 200
CHECK_OPERATIONS = 2_000
WARMUP = 5
PASSWORD = "Tz7#kQ9m-correct-horse"
EMAIL = "ivan.petrov@example.com"


def _mixed_passwords() -> list[str]:
    chooser = random.Random(1)
    strong = "".join(chooser.choice(string.ascii_letters + string.digits) for _ in range(61))
    return [
        "Tz7#kQ9m",
        "Password1",
        "Qwerty123!",
        "Йцукен123Q",
        "Gfhjkm2024",
        "Kabinet2024",
        "Ivan.Petrov1",
        "correct-horse-Battery-staple9",
        "Зелёный-Слон-7-Qz",
        "short",
        "Q7z" + strong,
    ]


async def _pool_measures(count: int) -> list[Row]:
    with PasswordHasher(Argon2Params(), max_workers=1) as hasher:
        encoded = await hasher.hash(PASSWORD)
        return [
            await measure_async(
                "PasswordHasher.verify via pool (1 worker)",
                lambda: hasher.verify(encoded, PASSWORD),
                count,
                WARMUP,
            ),
            await measure_async(
                "PasswordHasher.verify_dummy via pool",
                lambda: hasher.verify_dummy(PASSWORD),
                count,
                WARMUP,
            ),
        ]


def run(
    verify_operations: int = VERIFY_OPERATIONS, check_operations: int = CHECK_OPERATIONS
) -> list[Row]:
    """Measure argon2id verify/hash rates and check_password throughput; one row per measure."""
    params = Argon2Params()
    bare = argon2.PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=params.hash_len,
        salt_len=params.salt_len,
        type=argon2.Type.ID,
    )
    encoded = bare.hash(PASSWORD)
    passwords = cycle(_mixed_passwords())
    longest = "Q7z" + "".join(random.Random(2).choice(string.ascii_letters) for _ in range(253))
    huge = "Aa1!" * 262_144
    check_password("warm-up", email=EMAIL)  # builds the word lists once

    with one_core():
        bare_verify = measure(
            f"bare argon2id verify (m={params.memory_kib} t={params.time_cost} "
            f"p={params.parallelism})",
            lambda: bare.verify(encoded, PASSWORD),
            verify_operations,
        )
        rows = [
            bare_verify,
            measure("bare argon2id hash", lambda: bare.hash(PASSWORD), verify_operations // 2),
            *asyncio.run(_pool_measures(verify_operations)),
            measure(
                "check_password, mixed passwords",
                lambda: check_password(next(passwords), email=EMAIL),
                check_operations,
            ),
            measure(
                "check_password, 256 characters",
                lambda: check_password(longest, email=EMAIL),
                check_operations // 10,
            ),
            measure(
                "check_password, 1 MB refused",
                lambda: check_password(huge, email=EMAIL),
                check_operations,
            ),
        ]
    for row in rows[2:4]:
        row["vs_bare_verify"] = f"{100 * row['per_s'] / bare_verify['per_s']:.0f}%"
    return rows


if __name__ == "__main__":
    print_table("Password policy and argon2id", run())
