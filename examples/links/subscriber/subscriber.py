"""Listens to the published quotes (run it twice: two subscribers)."""

import json
import os
from decimal import Decimal

from mvi.links import get_logger

LOG = get_logger()


def on_quote(args, to_send, config):
    """Record one published quote."""
    LOG.info("%s heard %s: %s", config["name"], args["item"], args["total"])
    if config.get("record_path"):
        with open(config["record_path"], "a", encoding="utf-8") as file:
            file.write(json.dumps({"item": args["item"], "total": str(args["total"])}) + "\n")


def setup_config(config):
    """Without a name (``--name``), the subscriber is called as the manager named it."""
    return {"name": config.get("name") or os.environ.get("MVI_SERVICE_NAME", "subscriber")}


config_model = {"optional": {"name": str, "record_path": str}}

connection_models = {
    "in": {
        "quotes": {
            "connection_type": "subscriber",
            "required_creation_arguments": {"connection_function": on_quote},
            "optional_creation_arguments": {"topic": "quotes"},
            "required_arguments": {"item": str, "total": Decimal},
        }
    }
}
