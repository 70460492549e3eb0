"""Chat pages in a store: the workspace (``/s/<store>/chat/``) and usage (``/s/<store>/usage/``).

The conversation itself is sent and streamed by ``static/js/chat.js`` through
the JSON API (``webapp.chat.api``); these pages render what is saved (answers
as sanitised Markdown), and the forms here work without script too.
"""
from flask import Response, flash, g, redirect, render_template, request, url_for

from webapp.auth.decorators import login_required
from webapp.chat import charging, chats
from webapp.chat import usage as usage_data
from webapp.chat.answering import ChatError
from webapp.chat.models import STREAMING
from webapp.chat.payloads import cites_nothing, page_label, source_url
from webapp.chat.rendering import render_answer
from webapp.core.forms import ConfirmForm
from webapp.extensions import db
from webapp.pagination import PaginationError, search_prefix
from webapp.providers import service as provider_service
from webapp.stores import access

#: Chats in the sidebar per page, messages shown at first.
SIDEBAR_PAGE, MESSAGES_SHOWN = 20, 50


def _sidebar(everyone=False):
    q = search_prefix()
    page = chats.list_chats(g.store, g.user, cursor=request.args.get("cursor"), limit=SIDEBAR_PAGE, search=q,
                            everyone=everyone)
    return page, q


def _model_notice():
    """What the page says about the model answering here: whether it is the tiny demo model."""
    provider = provider_service.find_store_provider(g.store)
    return {"demo_model": provider_service.runs_demo_model(provider),
            "may_choose_model": g.user.is_effective_admin}


@login_required
def workspace():
    everyone = request.args.get("all") == "1" and chats.may_view_others(g.user, g.store)
    page, q = _sidebar(everyone)
    return render_template("chat/workspace.html", store=g.store, page=page, q=q, chat=None, messages=[],
                           everyone=everyone, may_view_others=chats.may_view_others(g.user, g.store),
                           form=ConfirmForm(), limits=charging.limits_of(g.user, g.store), **_model_notice())


@login_required
def show_chat(chat_id):
    chat = chats.get_chat(g.store, g.user, chat_id)
    everyone = chat.user_id != g.user.id or (request.args.get("all") == "1"
                                             and chats.may_view_others(g.user, g.store))
    page, q = _sidebar(everyone)
    before = request.args.get("before", type=int)
    messages, has_older = chats.latest_messages(chat, MESSAGES_SHOWN, before=before if before and before > 0 else None)
    rendered = [(m, render_answer(m.text, len(m.sources), f"src-{m.id}") if m.role == "assistant" else None,
                 [{**s, "url": source_url(s), "page_label": page_label(s)} for s in (m.sources or [])]) for m in messages]
    return render_template("chat/workspace.html", store=g.store, page=page, q=q, chat=chat, messages=rendered,
                           charges=charging.charges_of(messages), has_older=has_older, earlier=before, everyone=everyone, read_only=chat.user_id != g.user.id,
                           may_view_others=chats.may_view_others(g.user, g.store), form=ConfirmForm(),
                           streaming=STREAMING, uncited={m.id for m, *_ in rendered if cites_nothing(m)},
                           limits=charging.limits_of(g.user, g.store), **_model_notice())


@login_required
def new_chat():
    ConfirmForm().validate_on_submit() or _bad_form()
    chat = chats.create_chat(g.store, g.user)
    db.session.commit()
    return redirect(url_for(".show_chat", chat_id=chat.id))


def _bad_form():
    from werkzeug.exceptions import BadRequest

    raise BadRequest("The form expired; reload the page and try again.")


@login_required
def rename_chat(chat_id):
    ConfirmForm().validate_on_submit() or _bad_form()
    chat = chats.get_chat(g.store, g.user, chat_id, write=True)
    try:
        chats.rename_chat(chat, request.form.get("title", ""))
    except ChatError as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
    return redirect(url_for(".show_chat", chat_id=chat.id))


@login_required
def delete_chat(chat_id):
    ConfirmForm().validate_on_submit() or _bad_form()
    chat = chats.get_chat(g.store, g.user, chat_id, write=True)
    title = chat.title or "Untitled chat"
    chats.delete_chat(chat)
    db.session.commit()
    flash(f"Deleted the chat '{title}'.", "success")
    return redirect(url_for(".workspace"))


@login_required
def usage():
    """Your usage here; for store administrators everyone's here, and for unbound ones every store's."""
    is_store_admin = access.can_edit_store(g.user, g.store)
    may_all = access.can_manage_stores(g.user)
    scope = request.args.get("scope", "store" if is_store_admin else "mine")
    if scope not in usage_data.SCOPES or (scope == "store" and not is_store_admin) or (scope == "all" and not may_all):
        scope = "mine"
    group = request.args.get("group", "day")
    if group not in usage_data.GROUPS or (scope == "mine" and group in ("user", "store")):
        group = "day"
    try:
        first, last = usage_data.parse_range(request.args.get("from", ""), request.args.get("to", ""))
    except ValueError as exc:
        raise PaginationError(f"Dates are written YYYY-MM-DD: {exc}") from None
    store_ids = []
    if scope == "all":
        store_ids = [s.id for s in db.session.execute(access.accessible_stores_query(g.user)).scalars()]
    rows = usage_data.grouped(group, scope, g.store, g.user, first, last, store_ids)
    if request.args.get("format") == "csv":
        return Response(usage_data.csv_text(rows, group), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="usage-{g.store.name}-{scope}-{group}-{first}-{last}.csv"'})
    daily = rows if group == "day" else usage_data.grouped("day", scope, g.store, g.user, first, last, store_ids)
    return render_template("chat/usage.html", store=g.store, rows=rows, group=group, scope=scope, first=first,
                           last=last, totals=usage_data.totals(scope, g.store, g.user, first, last, store_ids),
                           chart=usage_data.chart(daily, first, last), is_store_admin=is_store_admin, may_all=may_all)

