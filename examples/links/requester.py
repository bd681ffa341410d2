"""A leading-edge service (main mode): asks the replyer for a quote of each order."""

import json
from decimal import Decimal

from mvi.links import get_logger

LOG = get_logger()


def main(to_send, config):
    """Request a quote for every order of the config, then return (and exit 0)."""
    quotes = []
    for order in config["orders"]:
        quote = to_send("quote", order)
        LOG.info("%s: %s", quote["item"], quote["total"])
        quotes.append({"item": quote["item"], "total": str(quote["total"])})
    if config.get("record_path"):
        with open(config["record_path"], "w", encoding="utf-8") as file:
            json.dump(quotes, file)


config_model = {
    "required": {"orders": [{"item": str, "quantity": int, "unit_price": Decimal}]},
    "optional": {"record_path": str},
}

connection_models = {
    "out": {
        "quote": {
            "connection_type": "requester",
            "required_arguments": {"item": str, "quantity": int, "unit_price": Decimal},
            "required_return_arguments": {"item": str, "total": Decimal},
        }
    }
}
