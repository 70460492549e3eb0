"""JSON bodies of the provider API, checked strictly by ``parse_body``."""
from typing import Annotated, Literal

from pydantic import Field

from webapp.core.bodies import Body, Secret, line
from webapp.providers import service as ps

#: Prices are exact decimals, sent as strings ("0.15") or whole numbers; floats are refused.
Price = Annotated[str | int, Field(union_mode="left_to_right")]


class ProviderFields(Body):
    name: line(ps.NAME_MAX) = None
    #: "chat" (the default) or "embedding"; fixed once created.
    purpose: Literal["chat", "embedding"] = None
    kind: Literal["local", "openai"] = None
    base_url: line(ps.URL_MAX, min_length=0) = None
    model: line(ps.MODEL_MAX, min_length=0) = None
    #: Write-only: set it, or leave it out to keep the stored one.
    api_key: Annotated[Secret, Field(max_length=ps.KEY_MAX)] = None
    clear_api_key: bool = False
    context_length: Annotated[int, Field(ge=ps.CONTEXT_RANGE[0], le=ps.CONTEXT_RANGE[1])] = None
    max_tokens: Annotated[int, Field(ge=ps.MAX_TOKENS_RANGE[0], le=ps.MAX_TOKENS_RANGE[1])] = None
    timeout: Annotated[int, Field(ge=ps.TIMEOUT_RANGE[0], le=ps.TIMEOUT_RANGE[1])] = None
    input_price: Price = None
    output_price: Price = None
    currency: line(3) = None
    is_default: bool = None

    def values(self):
        return {name: getattr(self, name) for name in ps.FIELDS if name in self.model_fields_set}


class CreateProvider(ProviderFields):
    name: line(ps.NAME_MAX)


class UpdateProvider(ProviderFields):
    pass
