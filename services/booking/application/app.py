"""BookingApplication: every use case of booking over one event store.

Where each lives: reads (reads.py), what auditors read (audit.py), commands on the
directory (directory_commands.py), commands on appointments, one typed command (commands.py) per method
(appointment_commands.py), the waitlist (waitlist_commands.py), and the event store,
loading by id, saving and the steps every command shares (base.py).
"""
from __future__ import annotations

from services.booking.application.appointment_commands import AppointmentCommands
from services.booking.application.audit import AuditReads
from services.booking.application.base import SYSTEM, Caller
from services.booking.application.directory_commands import DirectoryCommands
from services.booking.application.reads import Reads
from services.booking.application.waitlist_commands import WaitlistCommands

__all__ = ["SYSTEM", "BookingApplication", "Caller"]


class BookingApplication(Reads, AuditReads, DirectoryCommands, AppointmentCommands,
                         WaitlistCommands):
    """Booking's use cases; the library names its environment settings after this class."""
