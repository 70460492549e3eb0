"""Chat test data: a fact to ask about, the file that holds it, and providers to answer."""
from webapp.knowledge.models import READY

#: What the chat tests ask about: a fact no model knows, so an answer that has it came from the file.
FACT = ("The Zephyrine lighthouse on Corvala island was built in 1887 by the engineer Ottilie Brandvik. "
        "Its lamp is fuelled by whale oil and can be seen from forty kilometres away.")


def add_file(db, store, name, text, heading=""):
    """A file of ``store`` added and indexed through the knowledge service, as an upload is."""
    from flask import current_app

    from tests.support.knowledge import add_indexed_file

    if heading:
        name = name.rsplit(".", 1)[0] + ".md"
        text = f"# {heading}\n\n{text}\n"
    file = add_indexed_file(current_app._get_current_object(), store, name, text.encode())
    assert file.status == READY, (file.status, file.reason)
    return file


def make_provider(db, **fields):
    """A provider made the default: the local model unless ``fields`` say otherwise (``api_key`` is
    stored the way the admin page stores it). Commits."""
    from webapp.providers import service as provider_service

    values = {"name": "Local", "kind": "local", "model": "SmolLM2-135M-Instruct", "max_tokens": 12,
              "context_length": 2048, "timeout": 60, "input_price": "0", "output_price": "0", "currency": "USD"}
    values.update({k: v for k, v in fields.items() if k != "api_key"})
    provider = provider_service.create_provider(values, api_key=fields.get("api_key"), make_default=True)
    db.session.commit()
    return provider


def new_chat(client, store="research"):
    """Start a chat in ``store`` through the API on ``client``; its id."""
    response = client.post(f"/api/v1/s/{store}/chats/", json={})
    assert response.status_code == 201, response.json
    return response.json["chat"]["id"]
