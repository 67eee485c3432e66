"""Use cases over the event store: load -> check -> ask workflow -> act -> save."""
