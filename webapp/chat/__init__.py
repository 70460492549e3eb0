"""Chat over a store's knowledge.

So far this package holds the model providers, a library with no views and no
tables:

* ``providers``          the one interface (``get_provider(config).stream(...)``),
                         its config, events and usage;
* ``local_model``        the local model, SmolLM2-135M-Instruct run in-process by llama.cpp;
* ``openai_compatible``  any OpenAI-compatible server, through the official ``openai`` SDK;
* ``tokens``             the GGUF file, its chat template and tokenizer (also the
                         offline estimate for servers that report no usage);
* ``errors``             ``ProviderError`` and its subclasses.
"""
