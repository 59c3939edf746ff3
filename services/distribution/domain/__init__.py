"""Distribution's rules: the catalog, releases, entitlement-gated signed links."""
