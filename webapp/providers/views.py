"""Administration of model providers: ``/admin/providers/``.

Any administrator sees the list; creating, changing and deleting providers is
store management (unbound administrators), since providers serve every store.
The API key field is write-only: never filled in, "leave blank to keep".
"""
from flask import flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound

from webapp.auth.decorators import admin_required
from webapp.core.forms import ConfirmForm
from webapp.core.money import display
from webapp.extensions import db
from webapp.pagination import page_size, paginate
from webapp.providers import service as provider_service
from webapp.providers.access import can_manage_stores, store_management_required
from webapp.providers.forms import ProviderForm
from webapp.providers.models import Provider
from webapp.providers.service import ProviderSettingsError


def _provider(provider_id):
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound()
    return provider


def _save(form, provider=None):
    try:
        if provider is None:
            provider = provider_service.create_provider(form.values(), api_key=form.api_key.data or None,
                                                        make_default=form.is_default.data)
        else:
            provider_service.update_provider(provider, form.values(), api_key=form.api_key.data or None,
                                             clear_api_key=form.clear_api_key.data)
            if form.is_default.data:
                provider_service.set_default(provider)
    except ProviderSettingsError as exc:
        field = getattr(form, exc.field, None) if exc.field else None
        if field is not None:
            field.errors = [*field.errors, exc.message]
        else:
            flash(exc.message, "error")
        db.session.rollback()
        return None
    db.session.commit()
    return provider


@admin_required
def list_providers():
    page = paginate(db.select(Provider), order=[(Provider.name, "asc"), (Provider.id, "asc")],
                    cursor=request.args.get("cursor"), limit=page_size())
    return render_template("providers/providers.html", providers=page.items, page=page,
                           can_manage=can_manage_stores(g.user))


@admin_required
@store_management_required("set up model providers")
def create_provider():
    form = ProviderForm()
    if form.validate_on_submit():
        provider = _save(form)
        if provider is not None:
            flash(f"Added provider '{provider.name}'.", "success")
            return redirect(url_for(".list_providers"))
    return render_template("providers/provider_form.html", form=form, provider=None)


@admin_required
@store_management_required("change model providers")
def edit_provider(provider_id):
    provider = _provider(provider_id)
    form = ProviderForm(obj=provider)
    if not form.is_submitted():
        form.api_key.data = ""  # write-only: never sent back
        form.input_price.data = display(provider.input_price)
        form.output_price.data = display(provider.output_price)
    if form.validate_on_submit():
        if _save(form, provider) is not None:
            flash(f"Saved provider '{provider.name}'.", "success")
            return redirect(url_for(".list_providers"))
    return render_template("providers/provider_form.html", form=form, provider=provider)


@admin_required
@store_management_required("choose the default provider")
def make_default(provider_id):
    provider = _provider(provider_id)
    provider_service.set_default(provider)
    db.session.commit()
    flash(f"'{provider.name}' now answers in every store that has no provider of its own.", "success")
    return redirect(url_for(".list_providers"))


@admin_required
@store_management_required("delete model providers")
def delete_provider(provider_id):
    provider = _provider(provider_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = provider.name
        provider_service.delete_provider(provider)
        db.session.commit()
        flash(f"Deleted provider '{name}'. Stores that used it now use the default provider.", "success")
        return redirect(url_for(".list_providers"))
    return render_template("providers/provider_delete.html", provider=provider, form=form)
