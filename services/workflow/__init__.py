"""The workflow service: organisation-defined status workflows, versioned and
immutable once published, and the authority that validates every status
transition (with the pure rules of shared.domain.lifecycle)."""
