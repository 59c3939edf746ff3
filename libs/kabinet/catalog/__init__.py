"""Human messages of each domain's error codes, ``code -> (English, Russian)``, one module each.

They live in the shared package (not in the services) because the gateway and product backends
translate codes they receive from any service.
"""
