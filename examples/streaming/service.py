"""tokens: a generator entrypoint whose items are streamed to the caller as they come.

With `Accept: application/x-ndjson` each yielded item is sent at once as one line of JSON,
so a caller sees the first words before the last one is made (as a language model's tokens
are). A plain JSON caller gets the whole list when the generator is done.
"""

import time
from collections.abc import Iterator

from mvi import InvalidRequest, service

service.add_parameter("delay", 0.05)


@service.entrypoint
def tokens(text: str, repeat: int = 1) -> Iterator[dict[str, object]]:
    """Each word of ``text`` (``repeat`` times), one item per word, ``delay`` s apart."""
    words = text.split()
    if not words:
        raise InvalidRequest("send some words")
    if not 1 <= repeat <= 100:
        raise InvalidRequest("repeat is 1 to 100")
    index = 0
    for _ in range(repeat):
        for word in words:
            time.sleep(service.get_parameter("delay"))
            yield {"index": index, "word": word, "at": round(time.time(), 3)}
            index += 1


if __name__ == "__main__":
    service.run()
