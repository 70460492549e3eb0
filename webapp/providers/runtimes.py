"""Which runtime runs a provider.

The implementations are imported on first use, so the app starts (and ``flask``
commands run) without loading llama.cpp or the openai SDK: that is why the
imports below sit inside the function.
"""


def get_provider(config):
    """The provider for ``config``.

    Cheap to call per request: a local provider shares the model loaded once per
    process (lazily, on first use; same file and context length, same model),
    an OpenAI-compatible one shares its HTTP client.
    """
    if config.kind == "local":
        from webapp.providers.local_model import LocalProvider

        return LocalProvider(config)
    from webapp.providers.openai_compatible import OpenAICompatibleProvider

    return OpenAICompatibleProvider(config)
