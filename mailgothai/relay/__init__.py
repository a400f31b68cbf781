"""The SMTP relay (`mailgothai relay`): aiosmtpd listeners, policy, DKIM, a durable
spool and delivery workers. See ARCHITECTURE.md, "Path of a message"."""
