"""The Dovecot adapter: what the service asks of the mail store (doveadm)."""
