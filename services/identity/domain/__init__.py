"""The identity domain: rules and use cases, free of transport and storage (no grpc, no asyncpg).

Use cases: ``registration`` (register, activate, account for a purchase), ``signin`` (password
sign-in with ``throttling``), ``sessions`` (sessions, refresh, revocation, token validation),
``account`` (reset, change, email change, profile, deletion), ``signing`` (the shared signing
keys); ``services.build_services`` wires them on the ``ports`` a store implements. Emailed links
are ``links``, addresses ``emails``, the stable error codes ``errors``.

The password rule is ``password_policy.check_password`` (its word lists in ``password_lists`` and
``data/``, the Latin views it matches in ``password_variants``, zxcvbn in ``password_strength``);
argon2id hashing off the event loop is ``password_hashing.PasswordHasher``.
"""
