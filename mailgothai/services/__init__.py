"""Services: the project's use cases, called alike by the CLI, the web, the API and the
importer. Each checks the actor's rights itself, applies the core's rules, writes
through the adapters and records an audit entry."""
