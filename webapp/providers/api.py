"""Provider JSON for administrators: ``/api/v1/providers/...``.

Reading is for every administrator; creating, changing and deleting need
server-wide management (an administrator bound to a store may not).
"""
from flask import g, jsonify, request
from werkzeug.exceptions import NotFound

from webapp.auth.decorators import admin_required
from webapp.core.bodies import parse_body
from webapp.extensions import db
from webapp.pagination import link_header, page_size, paginate
from webapp.providers import service as provider_service
from webapp.providers.access import require_store_management
from webapp.providers.models import Provider
from webapp.providers.schemas import CreateProvider, UpdateProvider


def _provider(provider_id):
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound()
    return provider


@admin_required
def list_providers():
    """Every provider by name, a page at a time (``?cursor=``, ``?limit=``)."""
    page = paginate(db.select(Provider), order=[(Provider.name, "asc"), (Provider.id, "asc")],
                    cursor=request.args.get("cursor"), limit=page_size())
    return jsonify(items=[provider_service.provider_payload(p) for p in page.items],
                   next=page.next_cursor), link_header(page)


@admin_required
def create_provider():
    require_store_management(g.user, "set up model providers")
    data = parse_body(CreateProvider)
    provider = provider_service.create_provider(data.values(), api_key=data.api_key,
                                                make_default=bool(data.is_default))
    db.session.commit()
    return jsonify(provider=provider_service.provider_payload(provider)), 201


@admin_required
def get_provider(provider_id):
    return jsonify(provider=provider_service.provider_payload(_provider(provider_id)))


@admin_required
def update_provider(provider_id):
    require_store_management(g.user, "change model providers")
    provider = _provider(provider_id)
    data = parse_body(UpdateProvider)
    provider_service.update_provider(provider, data.values(), api_key=data.api_key,
                                     clear_api_key=data.clear_api_key)
    if data.is_default:
        provider_service.set_default(provider)
    db.session.commit()
    return jsonify(provider=provider_service.provider_payload(provider))


@admin_required
def delete_provider(provider_id):
    require_store_management(g.user, "delete model providers")
    provider_service.delete_provider(_provider(provider_id))
    db.session.commit()
    return jsonify(ok=True)


