"""In-memory stand-ins for parts the services take as dependencies (time, the
workflow authority, a rebuild's event source). Tests only: production wires the real ones."""
