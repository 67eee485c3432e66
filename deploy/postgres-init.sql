-- One database per service: each service owns its data.
-- Every service connects as `app`. Booking's and workflow's event stores belong to
-- `owner` (POSTGRES_USER), which creates their tables at start-up and leaves `app`
-- only SELECT and INSERT on the events; the notifier and projections own their own.
CREATE ROLE app LOGIN PASSWORD 'app';
CREATE DATABASE booking;
CREATE DATABASE workflow;
CREATE DATABASE notifier;
CREATE DATABASE projections;
ALTER DATABASE notifier OWNER TO app;
ALTER DATABASE projections OWNER TO app;
