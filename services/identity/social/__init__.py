"""Social sign-in adapters: each provider's real protocol over HTTP (httpx), ID tokens checked
with joserfc. The rules that use them live in ``identity.domain.federation``."""
