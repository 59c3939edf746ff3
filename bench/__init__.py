"""Benchmarks run by ``make bench``: each module measures one path and returns table rows."""
