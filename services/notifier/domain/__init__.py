"""Who gets what, and in which words: pure Python, no I/O."""
from services.notifier.domain.model import Message, Rendered
from services.notifier.domain.planning import plan

__all__ = ["Message", "Rendered", "plan"]
