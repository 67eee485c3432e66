"""The notifier: appointment events in, email (SendGrid) and SMS (Twilio) out,
through a send ledger in its own PostgreSQL database. See README.md here."""
