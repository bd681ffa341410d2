"""Quotes prices: answers each request with the total, and publishes every quote."""

from decimal import Decimal

from mvi.links import get_logger

LOG = get_logger()


def on_quote(args, to_send, config):
    """Answer one request for a quote; publish it to whoever listens."""
    total = (args["unit_price"] * args["quantity"] * (1 + config["tax_rate"])).quantize(
        Decimal("0.01")
    )
    to_send("quotes", {"item": args["item"], "total": total})
    LOG.info("quoted %s x %s: %s", args["quantity"], args["item"], total)
    return {"item": args["item"], "total": total}


def setup_connections(config):
    """The publisher waits for its subscribers before the first quote goes out."""
    return {"quotes": {"wait_for_subscribers": config.get("subscribers", 0)}}


def sigterm_handler(signum, frame, to_send, config):
    """Say goodbye on SIGTERM."""
    LOG.info("replyer stopping")


config_model = {
    "required": {"tax_rate": Decimal},
    "optional": {"subscribers": int},
}

connection_models = {
    "in": {
        "quote": {
            "connection_type": "replyer",
            "required_creation_arguments": {"connection_function": on_quote},
            "required_arguments": {"item": str, "quantity": int, "unit_price": Decimal},
            "required_return_arguments": {"item": str, "total": Decimal},
        }
    },
    "out": {
        "quotes": {
            "connection_type": "publisher",
            "optional_creation_arguments": {"is_x_pub": True, "topic": "quotes"},
            "required_arguments": {"item": str, "total": Decimal},
        }
    },
}
