-- One database per service: each service owns its data.
CREATE DATABASE booking;
CREATE DATABASE workflow;
CREATE DATABASE notifier;
CREATE DATABASE projections;
