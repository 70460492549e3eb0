"""Who may change model providers: the one place where providers ask the store access policy.

Providers serve every store, so creating, changing and deleting one is
server-wide management, allowed to administrators who are not bound to one store
by their Casdoor Homepage (``webapp.stores.access.can_manage_stores``). Stores
sit above providers (a store chooses its provider); this module is the
documented seam of the layer table, and nothing else in ``providers`` imports
``stores``.
"""
from webapp.stores.access import can_manage_stores, require_store_management, store_management_required

__all__ = ["can_manage_stores", "require_store_management", "store_management_required"]
