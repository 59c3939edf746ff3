"""Support rules and use cases: tickets, threads, attachments, priority and SLA."""
