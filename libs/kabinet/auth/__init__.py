"""Tokens Kabinet issues and how anyone verifies them: signing keys and key sets (``keys``),
access and ID tokens (``tokens``). Identity signs; the gateway and product backends verify with
the published JWKS, so this lives in the shared package."""
