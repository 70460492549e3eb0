"""Model providers: the models that answer, how to reach them, and what their tokens cost.

The model side (no pages, no stores):

* ``interface``  the one interface every runtime implements (``ChatProvider``,
  ``ProviderConfig``, the stream events ``Delta``/``Waiting``/``Finish``);
* ``runtimes``   which runtime runs a provider (``get_provider``);
* ``local_model`` llama.cpp in this process; ``openai_compatible`` any
  OpenAI-compatible server through the ``openai`` SDK;
* ``tokens``     the bundled model file, tokenizers and token estimates;
  ``process_cache`` per-process caches of loaded models;
* ``pricing``    what an answer costs, in exact decimals; ``errors`` why a model
  could not answer.

Around it, the feature: ``models`` (``Provider`` rows), ``service`` (create,
change, delete, the default, a store's choice; flushes), ``views`` (pages under
``/admin/providers/``), ``api`` (``/api/v1/providers/``), ``forms``, ``schemas``,
and ``access`` (the seam to the store access policy). URLs in ``blueprint.py``.
"""
from webapp.navigation import nav_item


def init_app(app):
    """Register the pages, the API and the admin menu entry."""
    from webapp.providers.blueprint import api_bp, pages

    app.register_blueprint(pages)
    app.register_blueprint(api_bp)
    nav_item(app, "admin", "providers.list_providers", "Providers", "settings", order=30, admin_only=True,
             store_scoped=False, also_current=("providers.create_provider", "providers.edit_provider",
                                               "providers.delete_provider"))
