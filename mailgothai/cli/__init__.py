"""The `mailgothai` command: thin wrappers over the services."""
