"""Where booking meets the outside: its PostgreSQL side tables, memory, CloudEvents."""
