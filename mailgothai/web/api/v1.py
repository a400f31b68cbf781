"""JSON API /api/v1: the same actions as the pages, through the same services, so the
same rules hold (a domain admin's token gets 404 outside its domains)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgothai.core.addresses import address_in, normalize_domain
from mailgothai.core.last_login import LastLogin
from mailgothai.core.models import Account, Admin, Alias, AliasDomain, Domain, RetainedAccount, Status
from mailgothai.core.passwords import generate_password
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.services.admins import normalize_login
from mailgothai.services.audit import parse_filter
from mailgothai.services.holds import HoldState
from mailgothai.services.listing import page_args
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.tokens import TokenInfo
from mailgothai.services.usage import DomainTotal, Reading
from mailgothai.web.api import app_passwords as app_passwords_api
from mailgothai.web.api import dkim as dkim_api
from mailgothai.web.api import dns as dns_api
from mailgothai.web.api import password_policy as password_policy_api
from mailgothai.web.api import quarantine as quarantine_api
from mailgothai.web.api import shared as shared_api
from mailgothai.web.api import spam as spam_api
from mailgothai.web.api import vacation as vacation_api
from mailgothai.web.api.common import ApiCtx, Handler, endpoint
from mailgothai.web.api.openapi import document
from mailgothai.web.api.routing import by_path
from mailgothai.web.context import Access

P = "/api/v1"


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def domain_json(d: Domain) -> dict[str, Any]:
    return {"name": d.name, "description": d.description, "status": d.status.value,
            "account_count": d.account_count, "quota_allocated": d.quota_allocated,
            "limits": {"max_accounts": d.limits.max_accounts, "quota_pool": d.limits.quota_pool,
                       "default_quota": d.limits.default_quota, "max_message_size": d.limits.max_message_size,
                       "hourly_send_limit": d.limits.hourly_send_limit, "retention_days": d.limits.retention_days},
            "hold_reason": d.hold_reason, "catch_all": d.catch_all or None}


def alias_domain_json(a: AliasDomain) -> dict[str, Any]:
    return {"name": a.name, "target": a.target}


def account_json(a: Account, reading: Reading | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"email": a.email, "domain": a.domain, "quota": a.quota, "status": a.status.value,
                           "given_name": a.given_name, "surname": a.surname, "display_name": a.display_name,
                           "aliases": list(a.aliases), "forwards": list(a.forwards),
                           # read with one account and in a domain's listing: null in the search
                           "mailbox_id": a.mailbox_id or None, "hold_reason": a.hold_reason if a.mailbox_id else None}
    out["usage"] = {"used_bytes": reading.used_bytes, "read_at": iso(reading.read_at)} if reading else None
    return out


def last_login_json(last: LastLogin | None) -> dict[str, Any] | None:
    """An account's last login (issue 17); None: never logged in."""
    return None if last is None else {"at": iso(last.at), "protocol": last.protocol, "source": last.source}


def retained_json(r: RetainedAccount) -> dict[str, Any]:
    """A deleted account kept for its domain's retention period (the CLI's --json, the same fields)."""
    return {"address": r.email, "mailbox_id": r.mailbox_id, "domain": r.domain, "deleted_at": iso(r.deleted_at),
            "deleted_by": r.deleted_by, "size": r.size, "purge_after": iso(r.purge_after),
            "hold_reason": r.hold_reason, "purging": r.purging, "quota": r.account.quota,
            "display_name": r.account.display_name, "aliases": list(r.account.aliases)}


def hold_json(h: HoldState) -> dict[str, Any]:
    return {"kind": h.kind, "name": h.name, "mailbox_id": h.mailbox_id or None, "domain": h.domain,
            "hold_reason": h.reason}


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


def _password(c: ApiCtx, generate_by_default: bool = True) -> PasswordInput:
    """A new account or admin gets a generated password unless one is given; a reset is
    done only when asked for: a password, or generate_password true (never by default)."""
    plain = c.text("password")
    generate = c.flag("generate_password")
    if plain is not None and generate:
        raise InvalidInput("password", Why.PASSWORD_AND_GENERATED())
    if plain is None and not generate and not generate_by_default:
        raise InvalidInput("password", Why.PASSWORD_NEITHER())
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


LIMITS = ("max_accounts", "quota_pool", "default_quota", "max_message_size", "hourly_send_limit", "retention_days")
COUNTS = ("max_accounts", "hourly_send_limit", "retention_days")


def _limits(c: ApiCtx) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in LIMITS:
        value = c.count(name) if name in COUNTS else c.size(name)
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
    svc = c.services()
    limits, description = _limits(c), c.text("description")
    catch_all = (c.text("catch_all") or "") if "catch_all" in c.body else None
    if catch_all:  # checked first: a refused catch-all leaves the limits unchanged too
        svc.domain_routing.check_catch_all(c.path("domain"), catch_all)
    if catch_all is None or description is not None or limits:
        svc.domains.set(c.path("domain"), description=description, **limits)
    if catch_all is not None:
        svc.domain_routing.set_catch_all(c.path("domain"), catch_all)
    return domain_json(svc.domains.get(c.path("domain")))


def alias_domains_list(c: ApiCtx) -> Any:
    return {"items": [alias_domain_json(a) for a in c.services().domain_routing.alias_domains(c.path("domain"))]}


def alias_domain_create(c: ApiCtx) -> Any:
    svc = c.services()
    domain = svc.domains.get(c.path("domain"))  # first: 404 outside the token's domains, or for no such domain
    try:
        return alias_domain_json(svc.domain_routing.add_alias_domain(c.text("name", required=True) or "",
                                                                     domain.name))
    except InvalidInput as exc:
        if exc.field == "alias_domain":  # the service's name for what this body calls "name"
            raise InvalidInput("name", exc.why) from None
        raise


def alias_domain_delete(c: ApiCtx) -> Any:
    try:
        name = normalize_domain(c.path("name"), "name")
    except InvalidInput:  # no alias domain has a name that is no domain name: 404, as for any unknown name
        raise NotFound("alias domain", c.path("name")) from None
    c.services().domain_routing.remove_alias_domain(name)


def domain_delete(c: ApiCtx) -> Any:
    force = c.query("force", "false")
    if force not in ("true", "false"):
        raise InvalidInput("force", Why.NOT_A_BOOLEAN())
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
        raise InvalidInput("desc", Why.NOT_A_BOOLEAN())
    _, page = c.listing().accounts(c.path("domain"), sort=c.query("sort", "address"), descending=desc == "true",
                                   search=c.query("q"), offset=offset, size=limit)
    readings = c.usage().for_accounts([a.email for a in page.items])
    logins = c.services().last_login.of_many(page.items)
    items = [{**account_json(a, readings.get(a.email)), "last_login": last_login_json(logins.get(a.email))}
             for a in page.items]
    return paged(items, page.offset, limit, page.total)


def inactive_list(c: ApiCtx) -> Any:
    _, found = c.services().last_login.inactive(c.path("domain"), c.query("days", "90"))
    return {"items": [{"address": i.address, "mailbox_id": i.mailbox_id, "last_login": last_login_json(i.last)}
                      for i in found]}


def account_create(c: ApiCtx) -> Any:
    svc = c.services()
    domain = svc.domains.get(c.path("domain"))
    address = address_in(c.text("local_part", required=True) or "", domain.name)
    created = svc.accounts.add(
        address, _password(c), given_name=c.text("given_name") or "",
        surname=c.text("surname") or "", display_name=c.text("display_name") or "", quota=c.size("quota"),
        status=_status(c), aliases=c.strings("aliases") or (), forwards=c.strings("forwards") or ())
    out = account_json(svc.accounts.get(created.account.email))  # with its mailbox id
    out["generated_password"] = created.generated_password
    return out


def account_get(c: ApiCtx) -> Any:
    svc = c.services()
    account = svc.accounts.get(c.path("email"))
    return {**account_json(account, c.usage().for_accounts([account.email]).get(account.email)),
            "last_login": last_login_json(svc.last_login.of(account))}


def account_update(c: ApiCtx) -> Any:
    return account_json(c.services().accounts.update(
        c.path("email"), given_name=c.text("given_name"), surname=c.text("surname"),
        display_name=c.text("display_name"), quota=c.size("quota"), aliases=c.strings("aliases"),
        forwards=c.strings("forwards")))


def account_delete(c: ApiCtx) -> Any:
    return retained_json(c.services().accounts.delete(c.path("email")))


def account_rename(c: ApiCtx) -> Any:
    renamed = c.services().lifecycle.rename(c.path("email"), c.text("new_address", required=True) or "",
                                            keep_old_as_alias=c.flag("keep_old_as_alias"))
    return account_json(renamed)


def account_hold(c: ApiCtx) -> Any:
    svc = c.services()
    account = svc.accounts.get(c.path("email"))  # first: outside its domains a domain admin gets 404
    return hold_json(svc.holds.hold_account(account.mailbox_id, c.text("reason", required=True) or ""))


def account_release(c: ApiCtx) -> Any:
    svc = c.services()
    account = svc.accounts.get(c.path("email"))
    return hold_json(svc.holds.release_account(account.mailbox_id))


def deleted_list(c: ApiCtx) -> Any:
    offset, limit = page_args(c.query("offset"), c.query("limit"))
    kept = c.services().lifecycle.deleted(c.path("domain"))
    return paged([retained_json(r) for r in kept[offset:offset + limit]], offset, limit, len(kept))


def deleted_get(c: ApiCtx) -> Any:
    return retained_json(c.services().lifecycle.get_deleted(c.path("mailbox_id")))


def deleted_restore(c: ApiCtx) -> Any:
    done = c.services().lifecycle.restore(c.path("mailbox_id"), c.text("as") or None)
    return {"account": account_json(done.account), "dropped_aliases": list(done.dropped_aliases)}


def deleted_handover(c: ApiCtx) -> Any:
    done = c.services().lifecycle.handover(c.path("mailbox_id"), c.text("to", required=True) or "")
    return {"deleted": retained_json(done.retained), "successor": done.successor, "folder": done.folder,
            "messages": done.messages}


def deleted_hold(c: ApiCtx) -> Any:
    svc = c.services()
    retained = svc.lifecycle.get_deleted(c.path("mailbox_id"))  # first: 404 outside the token's domains
    return hold_json(svc.holds.hold_account(retained.mailbox_id, c.text("reason", required=True) or ""))


def deleted_release(c: ApiCtx) -> Any:
    svc = c.services()
    retained = svc.lifecycle.get_deleted(c.path("mailbox_id"))
    return hold_json(svc.holds.release_account(retained.mailbox_id))


def domain_hold(c: ApiCtx) -> Any:
    svc = c.services()
    domain = svc.domains.get(c.path("domain"))  # first: 404 outside the token's domains
    return hold_json(svc.holds.hold_domain(domain.name, c.text("reason", required=True) or ""))


def domain_release(c: ApiCtx) -> Any:
    svc = c.services()
    return hold_json(svc.holds.release_domain(svc.domains.get(c.path("domain")).name))


def purge(c: ApiCtx) -> Any:
    dry_run = c.flag("dry_run") if "dry_run" in c.body else True  # purging needs {"dry_run": false}
    report = c.services().purge.run(dry_run=dry_run)
    return {"at": iso(report.at), "dry_run": report.dry_run, "purged": [retained_json(r) for r in report.purged],
            "kept": [{**retained_json(k.retained), "reason": k.reason} for k in report.kept]}


def account_suspend(c: ApiCtx) -> Any:
    return account_json(c.services().accounts.set_status(c.path("email"), Status.DISABLED))


def account_activate(c: ApiCtx) -> Any:
    return account_json(c.services().accounts.set_status(c.path("email"), Status.ACTIVE))


def account_filters(c: ApiCtx) -> Any:
    return c.services().filters.show(c.path("email")).as_data()


def account_filters_save(c: ApiCtx) -> Any:
    # the account is reached (404 outside the token's domains) before the rules are read
    return c.services().filters.save(c.path("email"), c.body.get("rules"),
                                     use_instead_of_own=c.flag("use_instead_of_own")).as_data()


def account_password(c: ApiCtx) -> Any:
    must_change = c.body.get("must_change", True)  # issue 20: an admin's reset is changed at the next login
    if not isinstance(must_change, bool):
        raise InvalidInput("must_change", Why.NOT_A_BOOLEAN())
    generated = c.services().accounts.set_password(c.path("email"), _password(c, generate_by_default=False),
                                                   must_change=must_change)
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
    address = address_in(c.text("local_part", required=True) or "", domain.name)
    return alias_json(svc.aliases.add(address, c.strings("members") or ()))


def alias_get(c: ApiCtx) -> Any:
    return alias_json(c.services().aliases.get(c.path("address")))


def alias_update(c: ApiCtx) -> Any:
    members = c.strings("members")
    if members is None:
        raise InvalidInput("members", Why.REQUIRED())
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


def admin_password(c: ApiCtx) -> Any:
    """An operator's reset of another admin's password; for the token's own login (any role)
    a change of its own, only with `current_password` (and `code` with the second factor on),
    which keeps the token in use and ends the admin's other tokens and sessions: a stolen
    token alone cannot set a password and then mint a token with it."""
    current, code = c.text("current_password"), c.text("code")
    try:
        own = normalize_login(c.path("login")) == c.admin.login
    except InvalidInput:
        own = False
    if not own:
        if current is not None or code is not None:
            c.services().admins.get(c.path("login"))  # an operator's call: 403 for anyone else
            raise InvalidInput("current_password" if current is not None else "code", Why.ONLY_OWN_LOGIN())
        return {"generated_password": c.services().admins.set_password(c.path("login"), _password(c, False),
                                                                       keep_token=c.token_id)}
    if current is None:
        raise InvalidInput("current_password", Why.OWN_PASSWORD_NEEDS_CURRENT())
    new = _password(c, False)
    generated = generate_password() if new.generate else None
    plain = generated or new.plain or ""
    try:
        c.services().admins.change_own_password(current, plain, plain, code=code or "", keep_token=c.token_id)
    except InvalidInput as exc:  # the body's new password is "password" (the web form's "new_password")
        if exc.field == "new_password":
            raise InvalidInput("password", exc.why) from None
        raise
    return {"generated_password": generated}


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
    """A token may make a token only with its admin's password (and TOTP code): a stolen
    token alone cannot mint one that outlives it (services/tokens.py)."""
    new = c.tokens().create(c.text("name", required=True) or "", c.count("days"), password=c.text("password") or "",
                            code=c.text("code") or "")
    return {**token_json(new.info), "token": new.token}


def token_revoke(c: ApiCtx) -> Any:
    c.tokens().revoke(c.path("token_id"))


async def openapi(request: Request) -> Response:
    return JSONResponse(document())


def bodies_required() -> frozenset[tuple[str, str]]:
    """(path, method) of the operations whose request body the document requires."""
    return frozenset((path, method.upper()) for path, item in document()["paths"].items()
                     for method, op in item.items() if op.get("requestBody", {}).get("required"))


def routes() -> list[Route]:
    f = frozenset
    spec = Route(f"{P}/openapi.json", openapi, methods=["GET"])
    spec.access = Access.PUBLIC  # type: ignore[attr-defined]
    required = bodies_required()

    def ep(path: str, handler: Handler, method: str, **kw: Any) -> Route:
        return endpoint(path, handler, method, body_required=(path, method) in required, **kw)

    return by_path([
        spec,
        ep(f"{P}/me", me, "GET"),
        ep(f"{P}/domains", domains_list, "GET"),
        ep(f"{P}/domains", domain_create, "POST", body=f({"name", "description", *LIMITS}), status=201),
        ep(f"{P}/domains/{{domain}}", domain_get, "GET"),
        ep(f"{P}/domains/{{domain}}", domain_update, "PATCH", body=f({"description", "catch_all", *LIMITS})),
        ep(f"{P}/domains/{{domain}}", domain_delete, "DELETE"),
        ep(f"{P}/domains/{{domain}}/suspend", domain_suspend, "POST", body=f()),
        ep(f"{P}/domains/{{domain}}/activate", domain_activate, "POST", body=f()),
        ep(f"{P}/domains/{{domain}}/usage", domain_usage, "GET"),
        ep(f"{P}/domains/{{domain}}/alias-domains", alias_domains_list, "GET"),
        ep(f"{P}/domains/{{domain}}/alias-domains", alias_domain_create, "POST", body=f({"name"}), status=201),
        ep(f"{P}/alias-domains/{{name}}", alias_domain_delete, "DELETE"),
        ep(f"{P}/domains/{{domain}}/hold", domain_hold, "POST", body=f({"reason"})),
        ep(f"{P}/domains/{{domain}}/release", domain_release, "POST", body=f()),
        ep(f"{P}/domains/{{domain}}/deleted", deleted_list, "GET"),
        ep(f"{P}/domains/{{domain}}/accounts", accounts_list, "GET"),
        ep(f"{P}/domains/{{domain}}/inactive", inactive_list, "GET"),
        ep(f"{P}/domains/{{domain}}/accounts", account_create, "POST", status=201, body=f({
            "local_part", "given_name", "surname", "display_name", "quota", "status", "aliases", "forwards",
            "password", "generate_password"})),
        ep(f"{P}/domains/{{domain}}/aliases", aliases_list, "GET"),
        ep(f"{P}/domains/{{domain}}/aliases", alias_create, "POST", body=f({"local_part", "members"}), status=201),
        ep(f"{P}/accounts/{{email}}", account_get, "GET"),
        ep(f"{P}/accounts/{{email}}", account_update, "PATCH", body=f({
            "given_name", "surname", "display_name", "quota", "aliases", "forwards"})),
        ep(f"{P}/accounts/{{email}}", account_delete, "DELETE"),
        ep(f"{P}/accounts/{{email}}/suspend", account_suspend, "POST", body=f()),
        ep(f"{P}/accounts/{{email}}/activate", account_activate, "POST", body=f()),
        ep(f"{P}/accounts/{{email}}/password", account_password, "POST",
           body=f({"password", "generate_password", "must_change"})),
        ep(f"{P}/accounts/{{email}}/rename", account_rename, "POST", body=f({"new_address", "keep_old_as_alias"})),
        ep(f"{P}/accounts/{{email}}/hold", account_hold, "POST", body=f({"reason"})),
        ep(f"{P}/accounts/{{email}}/filters", account_filters, "GET"),
        ep(f"{P}/accounts/{{email}}/filters", account_filters_save, "POST", body=f({"rules", "use_instead_of_own"})),
        ep(f"{P}/accounts/{{email}}/release", account_release, "POST", body=f()),
        ep(f"{P}/deleted/{{mailbox_id}}", deleted_get, "GET"),
        ep(f"{P}/deleted/{{mailbox_id}}/restore", deleted_restore, "POST", body=f({"as"})),
        ep(f"{P}/deleted/{{mailbox_id}}/handover", deleted_handover, "POST", body=f({"to"})),
        ep(f"{P}/deleted/{{mailbox_id}}/hold", deleted_hold, "POST", body=f({"reason"})),
        ep(f"{P}/deleted/{{mailbox_id}}/release", deleted_release, "POST", body=f()),
        ep(f"{P}/purge", purge, "POST", body=f({"dry_run"})),
        ep(f"{P}/search", search, "GET"),
        ep(f"{P}/aliases/{{address}}", alias_get, "GET"),
        ep(f"{P}/aliases/{{address}}", alias_update, "PATCH", body=f({"members"})),
        ep(f"{P}/aliases/{{address}}", alias_delete, "DELETE"),
        ep(f"{P}/aliases/{{address}}/suspend", alias_suspend, "POST", body=f()),
        ep(f"{P}/aliases/{{address}}/activate", alias_activate, "POST", body=f()),
        *shared_api.routes(ep),  # issue 17: shared role mailboxes
        *vacation_api.routes(ep),  # issue 17: out-of-office replies
        *spam_api.routes(ep),  # issue 18: spam policies, allow and block lists, counts
        *quarantine_api.routes(ep),  # issue 18: the quarantine
        *dkim_api.routes(ep),  # issue 19: a domain's DKIM keys
        *password_policy_api.routes(ep),  # issue 20: password policies
        *app_passwords_api.routes(ep),  # issue 20: a user's app passwords and second factor
        *dns_api.routes(ep),  # issue 19: a domain's DNS records and their check
        ep(f"{P}/admins", admins_list, "GET"),
        ep(f"{P}/admins", admin_create, "POST", status=201, body=f({
            "login", "role", "domains", "display_name", "password", "generate_password"})),
        ep(f"{P}/admins/{{login}}", admin_get, "GET"),
        ep(f"{P}/admins/{{login}}", admin_update, "PATCH", body=f({"domains", "display_name", "status"})),
        ep(f"{P}/admins/{{login}}", admin_delete, "DELETE"),
        ep(f"{P}/admins/{{login}}/password", admin_password, "POST",
           body=f({"password", "generate_password", "current_password", "code"})),
        ep(f"{P}/audit", audit, "GET"),
        ep(f"{P}/tokens", tokens_list, "GET"),
        ep(f"{P}/tokens", token_create, "POST", body=f({"name", "days", "password", "code"}), status=201),
        ep(f"{P}/tokens/{{token_id}}", token_revoke, "DELETE"),
    ])
