"""The admin web and JSON API (Starlette): `create_app(settings)` in app.py."""
