"""Kabinet's shared mechanics and the generated service contracts (``kabinet.<service>.v1``)."""
