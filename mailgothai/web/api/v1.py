"""JSON API /api/v1: the same actions as the pages, through the same services, so the
same rules hold (a domain admin's token gets 404 outside its domains)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgothai.core.models import Account, Admin, Alias, Domain, Status
from mailgothai.errors import InvalidInput
from mailgothai.services.audit import parse_filter
from mailgothai.services.listing import page_args
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.tokens import TokenInfo
from mailgothai.services.usage import DomainTotal, Reading
from mailgothai.web.api.common import ApiCtx, endpoint
from mailgothai.web.api.openapi import document
from mailgothai.web.context import Access

P = "/api/v1"


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def domain_json(d: Domain) -> dict[str, Any]:
    return {"name": d.name, "description": d.description, "status": d.status.value,
            "account_count": d.account_count, "quota_allocated": d.quota_allocated,
            "limits": {"max_accounts": d.limits.max_accounts, "quota_pool": d.limits.quota_pool,
                       "default_quota": d.limits.default_quota, "max_message_size": d.limits.max_message_size,
                       "hourly_send_limit": d.limits.hourly_send_limit}}


def account_json(a: Account, reading: Reading | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"email": a.email, "domain": a.domain, "quota": a.quota, "status": a.status.value,
                           "given_name": a.given_name, "surname": a.surname, "display_name": a.display_name,
                           "aliases": list(a.aliases), "forwards": list(a.forwards)}
    out["usage"] = {"used_bytes": reading.used_bytes, "read_at": iso(reading.read_at)} if reading else None
    return out


def alias_json(a: Alias) -> dict[str, Any]:
    return {"address": a.address, "domain": a.domain, "members": list(a.members), "status": a.status.value}


def admin_json(a: Admin) -> dict[str, Any]:
    return {"login": a.login, "role": a.role.value, "domains": list(a.domains), "display_name": a.display_name,
            "status": a.status.value}


def token_json(t: TokenInfo) -> dict[str, Any]:
    return {"id": t.id, "admin": t.admin_login, "name": t.name, "created_at": iso(t.created_at),
            "last_used_at": iso(t.last_used_at), "expires_at": iso(t.expires_at), "revoked_at": iso(t.revoked_at)}


def usage_json(domain: str, t: DomainTotal | None) -> dict[str, Any]:
    return {"domain": domain, "used_bytes": t.used_bytes if t else 0, "accounts_read": t.accounts_read if t else 0,
            "oldest_read_at": iso(t.oldest_read_at) if t else None,
            "newest_read_at": iso(t.newest_read_at) if t else None}


def paged(items: list[dict[str, Any]], offset: int, limit: int, total: int) -> dict[str, Any]:
    return {"items": items, "offset": offset, "limit": limit, "total": total}


def _password(c: ApiCtx) -> PasswordInput:
    plain = c.text("password")
    generate = c.flag("generate_password")
    if plain is not None and generate:
        raise InvalidInput("password", "give a password or generate_password, not both")
    return PasswordInput(plain=plain) if plain is not None else PasswordInput(generate=True)


def _status(c: ApiCtx) -> str:
    return c.text("status", default="active") or "active"


# ---- handlers -----------------------------------------------------------------------
def me(c: ApiCtx) -> Any:
    return admin_json(c.admin)


def domains_list(c: ApiCtx) -> Any:
    offset, limit = page_args(c.query("offset"), c.query("limit"))
    page = c.listing().domains(search=c.query("q"), offset=offset, size=limit)
    return paged([domain_json(d) for d in page.items], page.offset, limit, page.total)


LIMITS = ("max_accounts", "quota_pool", "default_quota", "max_message_size", "hourly_send_limit")


def _limits(c: ApiCtx) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in LIMITS:
        value = c.count(name) if name in ("max_accounts", "hourly_send_limit") else c.size(name)
        if value is not None:
            out[name] = value
    return out


def domain_create(c: ApiCtx) -> Any:
    domain = c.services().domains.add(c.text("name", required=True) or "", description=c.text("description") or "",
                                      **_limits(c))
    return domain_json(domain)


def domain_get(c: ApiCtx) -> Any:
    return domain_json(c.services().domains.get(c.path("domain")))


def domain_update(c: ApiCtx) -> Any:
    return domain_json(c.services().domains.set(c.path("domain"), description=c.text("description"), **_limits(c)))


def domain_delete(c: ApiCtx) -> Any:
    force = c.query("force", "false")
    if force not in ("true", "false"):
        raise InvalidInput("force", "must be true or false")
    c.services().domains.delete(c.path("domain"), force=force == "true")


def domain_suspend(c: ApiCtx) -> Any:
    return domain_json(c.services().domains.set_status(c.path("domain"), Status.DISABLED))


def domain_activate(c: ApiCtx) -> Any:
    return domain_json(c.services().domains.set_status(c.path("domain"), Status.ACTIVE))


def domain_usage(c: ApiCtx) -> Any:
    domain = c.services().domains.get(c.path("domain"))
    return usage_json(domain.name, c.usage().domain_totals([domain.name]).get(domain.name))


def accounts_list(c: ApiCtx) -> Any:
    offset, limit = page_args(c.query("offset"), c.query("limit"))
    desc = c.query("desc", "false")
    if desc not in ("true", "false"):
        raise InvalidInput("desc", "must be true or false")
    _, page = c.listing().accounts(c.path("domain"), sort=c.query("sort", "address"), descending=desc == "true",
                                   search=c.query("q"), offset=offset, size=limit)
    readings = c.usage().for_accounts([a.email for a in page.items])
    return paged([account_json(a, readings.get(a.email)) for a in page.items], page.offset, limit, page.total)


def account_create(c: ApiCtx) -> Any:
    svc = c.services()
    domain = svc.domains.get(c.path("domain"))
    local = c.text("local_part", required=True) or ""
    if not local.strip() or "@" in local:
        raise InvalidInput("local_part", "give the part before the @ only")
    created = svc.accounts.add(
        f"{local.strip()}@{domain.name}", _password(c), given_name=c.text("given_name") or "",
        surname=c.text("surname") or "", display_name=c.text("display_name") or "", quota=c.size("quota"),
        status=_status(c), aliases=c.strings("aliases") or (), forwards=c.strings("forwards") or ())
    out = account_json(created.account)
    out["generated_password"] = created.generated_password
    return out


def account_get(c: ApiCtx) -> Any:
    account = c.services().accounts.get(c.path("email"))
    return account_json(account, c.usage().for_accounts([account.email]).get(account.email))


def account_update(c: ApiCtx) -> Any:
    return account_json(c.services().accounts.update(
        c.path("email"), given_name=c.text("given_name"), surname=c.text("surname"),
        display_name=c.text("display_name"), quota=c.size("quota"), aliases=c.strings("aliases"),
        forwards=c.strings("forwards")))


def account_delete(c: ApiCtx) -> Any:
    c.services().accounts.delete(c.path("email"))


def account_suspend(c: ApiCtx) -> Any:
    return account_json(c.services().accounts.set_status(c.path("email"), Status.DISABLED))


def account_activate(c: ApiCtx) -> Any:
    return account_json(c.services().accounts.set_status(c.path("email"), Status.ACTIVE))


def account_password(c: ApiCtx) -> Any:
    generated = c.services().accounts.set_password(c.path("email"), _password(c))
    return {"generated_password": generated}


def search(c: ApiCtx) -> Any:
    _, limit = page_args(0, c.query("limit"))
    return {"items": [account_json(a) for a in c.services().accounts.search(c.query("q"), limit=limit)]}


def aliases_list(c: ApiCtx) -> Any:
    offset, limit = page_args(c.query("offset"), c.query("limit"))
    _, page = c.listing().aliases(c.path("domain"), search=c.query("q"), offset=offset, size=limit)
    return paged([alias_json(a) for a in page.items], page.offset, limit, page.total)


def alias_create(c: ApiCtx) -> Any:
    svc = c.services()
    domain = svc.domains.get(c.path("domain"))
    local = c.text("local_part", required=True) or ""
    if not local.strip() or "@" in local:
        raise InvalidInput("local_part", "give the part before the @ only")
    return alias_json(svc.aliases.add(f"{local.strip()}@{domain.name}", c.strings("members") or ()))


def alias_get(c: ApiCtx) -> Any:
    return alias_json(c.services().aliases.get(c.path("address")))


def alias_update(c: ApiCtx) -> Any:
    members = c.strings("members")
    if members is None:
        raise InvalidInput("members", "is required")
    return alias_json(c.services().aliases.set_members(c.path("address"), members))


def alias_delete(c: ApiCtx) -> Any:
    c.services().aliases.delete(c.path("address"))


def alias_suspend(c: ApiCtx) -> Any:
    return alias_json(c.services().aliases.set_status(c.path("address"), Status.DISABLED))


def alias_activate(c: ApiCtx) -> Any:
    return alias_json(c.services().aliases.set_status(c.path("address"), Status.ACTIVE))


def admins_list(c: ApiCtx) -> Any:
    return {"items": [admin_json(a) for a in sorted(c.services().admins.list(), key=lambda a: a.login)]}


def admin_create(c: ApiCtx) -> Any:
    admin, generated = c.services().admins.add(
        c.text("login", required=True) or "", c.text("role", required=True) or "", _password(c),
        domains=c.strings("domains") or (), display_name=c.text("display_name") or "")
    return {**admin_json(admin), "generated_password": generated}


def admin_get(c: ApiCtx) -> Any:
    return admin_json(c.services().admins.get(c.path("login")))


def admin_update(c: ApiCtx) -> Any:
    status = c.text("status")
    return admin_json(c.services().admins.update(
        c.path("login"), domains=c.strings("domains"), display_name=c.text("display_name"),
        status=Status.parse(status) if status is not None else None))


def admin_delete(c: ApiCtx) -> Any:
    c.services().admins.delete(c.path("login"))
    c.state.sessions.end_all("admin", c.path("login").strip().lower())


def admin_password(c: ApiCtx) -> Any:
    return {"generated_password": c.services().admins.set_password(c.path("login"), _password(c))}


def audit(c: ApiCtx) -> Any:
    _, limit = page_args(0, c.query("limit"))
    before = c.query("before")
    flt = parse_filter(domain=c.query("domain"), actor=c.query("actor"), action=c.query("action"),
                       since=c.query("since"), until=c.query("until"))
    page = c.audit().page(flt, before_id=before, limit=limit)
    return {"items": [{"id": e.id, "at": iso(e.at), "actor": e.actor, "origin": e.origin, "action": e.action,
                       "object_type": e.object_type, "object_id": e.object_id, "domain": e.domain,
                       "before": e.before, "after": e.after} for e in page.entries],
            "next_before": page.next_before}


def tokens_list(c: ApiCtx) -> Any:
    return {"items": [token_json(t) for t in c.tokens().list()]}


def token_create(c: ApiCtx) -> Any:
    new = c.tokens().create(c.text("name", required=True) or "", c.count("days"))
    return {**token_json(new.info), "token": new.token}


def token_revoke(c: ApiCtx) -> Any:
    c.tokens().revoke(c.path("token_id"))


async def openapi(request: Request) -> Response:
    return JSONResponse(document())


def routes() -> list[Route]:
    f = frozenset
    spec = Route(f"{P}/openapi.json", openapi, methods=["GET"])
    spec.access = Access.PUBLIC  # type: ignore[attr-defined]
    return [
        spec,
        endpoint(f"{P}/me", me, "GET"),
        endpoint(f"{P}/domains", domains_list, "GET"),
        endpoint(f"{P}/domains", domain_create, "POST", body=f({"name", "description", *LIMITS}), status=201),
        endpoint(f"{P}/domains/{{domain}}", domain_get, "GET"),
        endpoint(f"{P}/domains/{{domain}}", domain_update, "PATCH", body=f({"description", *LIMITS})),
        endpoint(f"{P}/domains/{{domain}}", domain_delete, "DELETE"),
        endpoint(f"{P}/domains/{{domain}}/suspend", domain_suspend, "POST", body=f()),
        endpoint(f"{P}/domains/{{domain}}/activate", domain_activate, "POST", body=f()),
        endpoint(f"{P}/domains/{{domain}}/usage", domain_usage, "GET"),
        endpoint(f"{P}/domains/{{domain}}/accounts", accounts_list, "GET"),
        endpoint(f"{P}/domains/{{domain}}/accounts", account_create, "POST", status=201, body=f({
            "local_part", "given_name", "surname", "display_name", "quota", "status", "aliases", "forwards",
            "password", "generate_password"})),
        endpoint(f"{P}/domains/{{domain}}/aliases", aliases_list, "GET"),
        endpoint(f"{P}/domains/{{domain}}/aliases", alias_create, "POST", body=f({"local_part", "members"}),
                 status=201),
        endpoint(f"{P}/accounts/{{email}}", account_get, "GET"),
        endpoint(f"{P}/accounts/{{email}}", account_update, "PATCH", body=f({
            "given_name", "surname", "display_name", "quota", "aliases", "forwards"})),
        endpoint(f"{P}/accounts/{{email}}", account_delete, "DELETE"),
        endpoint(f"{P}/accounts/{{email}}/suspend", account_suspend, "POST", body=f()),
        endpoint(f"{P}/accounts/{{email}}/activate", account_activate, "POST", body=f()),
        endpoint(f"{P}/accounts/{{email}}/password", account_password, "POST",
                 body=f({"password", "generate_password"})),
        endpoint(f"{P}/search", search, "GET"),
        endpoint(f"{P}/aliases/{{address}}", alias_get, "GET"),
        endpoint(f"{P}/aliases/{{address}}", alias_update, "PATCH", body=f({"members"})),
        endpoint(f"{P}/aliases/{{address}}", alias_delete, "DELETE"),
        endpoint(f"{P}/aliases/{{address}}/suspend", alias_suspend, "POST", body=f()),
        endpoint(f"{P}/aliases/{{address}}/activate", alias_activate, "POST", body=f()),
        endpoint(f"{P}/admins", admins_list, "GET"),
        endpoint(f"{P}/admins", admin_create, "POST", status=201, body=f({
            "login", "role", "domains", "display_name", "password", "generate_password"})),
        endpoint(f"{P}/admins/{{login}}", admin_get, "GET"),
        endpoint(f"{P}/admins/{{login}}", admin_update, "PATCH", body=f({"domains", "display_name", "status"})),
        endpoint(f"{P}/admins/{{login}}", admin_delete, "DELETE"),
        endpoint(f"{P}/admins/{{login}}/password", admin_password, "POST",
                 body=f({"password", "generate_password"})),
        endpoint(f"{P}/audit", audit, "GET"),
        endpoint(f"{P}/tokens", tokens_list, "GET"),
        endpoint(f"{P}/tokens", token_create, "POST", body=f({"name", "days"}), status=201),
        endpoint(f"{P}/tokens/{{token_id}}", token_revoke, "DELETE"),
    ]
