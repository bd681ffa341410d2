"""iris: a scikit-learn classifier, trained when the service first starts, that takes a
pandas DataFrame of flower measurements and answers the species of each row."""

import logging

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mvi import InvalidRequest, service
from mvi.data_types import DataFrame

logger = logging.getLogger(__name__)

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def train() -> tuple[object, list[str], float]:
    """Fit the classifier on the iris data that scikit-learn ships (no download)."""
    iris = load_iris()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    features = pd.DataFrame(iris.data, columns=FEATURES)
    model.fit(features, iris.target)
    accuracy = float(model.score(features, iris.target))
    return model, [str(name) for name in iris.target_names], accuracy


MODEL, SPECIES, TRAINING_ACCURACY = train()
logger.info("trained on the iris data: training accuracy %.3f", TRAINING_ACCURACY)


@service.entrypoint(monitor=True)
def predict(flowers: DataFrame) -> list[str]:
    """The species of each row: columns sepal_length, sepal_width, petal_length and
    petal_width, in centimetres (the rows, columns or `to_dict()` JSON shape)."""
    missing = [name for name in FEATURES if name not in flowers.columns]
    if missing:
        raise InvalidRequest(f"missing columns {missing}; send {FEATURES}")
    if flowers.empty:
        raise InvalidRequest("send at least one row")
    try:
        values = flowers[FEATURES].astype(float)
    except (TypeError, ValueError) as error:
        raise InvalidRequest(f"the measurements must be numbers: {error}") from None
    return [SPECIES[index] for index in MODEL.predict(values)]  # type: ignore[attr-defined]


@service.entrypoint
def model_info() -> dict[str, object]:
    """The features the model reads, the species it answers and its training accuracy."""
    return {"features": FEATURES, "species": SPECIES, "training_accuracy": TRAINING_ACCURACY}


if __name__ == "__main__":
    service.run()
