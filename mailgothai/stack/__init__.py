"""The private stack: slapd and Dovecot configured from the project's templates,
started on loopback ports with their state under one data directory."""
