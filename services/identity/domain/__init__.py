"""The identity domain: rules and use cases, free of transport and storage (no grpc, no asyncpg).

The password rule is ``password_policy.check_password`` (its word lists in ``password_lists`` and
``data/``, the Latin views it matches in ``password_variants``, zxcvbn in ``password_strength``);
argon2id hashing off the event loop is ``password_hashing.PasswordHasher``.
"""
