"""A leading-edge service (main mode): asks the replyer for a quote of each order."""

import json
import time
from decimal import Decimal

from mvi.links import LinkTimeout, ReplyError, get_logger

LOG = get_logger()


def main(to_send, config):
    """Request a quote for every order of the config, then return (and exit 0).

    With ``every`` (seconds) in the config, ask again and again, that long apart, until
    the service is stopped: a quote that fails (the replyer is down, or refuses) is
    logged and the next round goes on, which is how the manager runs it.
    """
    while True:
        quotes = []
        for order in config["orders"]:
            try:
                quote = to_send("quote", order)
            except (LinkTimeout, ReplyError) as exc:
                if not config.get("every"):
                    raise
                LOG.warning("no quote for %s: %s", order["item"], exc)
                continue
            LOG.info("%s: %s", quote["item"], quote["total"])
            quotes.append({"item": quote["item"], "total": str(quote["total"])})
        if config.get("record_path"):
            with open(config["record_path"], "w", encoding="utf-8") as file:
                json.dump(quotes, file)
        if not config.get("every"):
            return
        time.sleep(float(config["every"]))


config_model = {
    "required": {"orders": [{"item": str, "quantity": int, "unit_price": Decimal}]},
    "optional": {"record_path": str, "every": Decimal},
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
