"""MailGoThai: the central e-mail service of a government, for hundreds of agencies."""

__version__ = "0.1.0"
