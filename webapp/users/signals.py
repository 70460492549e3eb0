"""What other features hear about a person's access, without this layer knowing them.

``access_revoked`` is sent (sender: the user's id, ``reason``) when Storehouse
ends every way in of a person because Casdoor deleted or forbade them or took
them out of the required groups. Receivers do their part in the sender's
transaction (they flush, never commit): the chat stops the person's answers
that are still streaming.
"""
from blinker import Namespace

_signals = Namespace()

access_revoked = _signals.signal("access-revoked")
