"""The iris service in this process, through the app that service.run() serves."""

import service
from mvi.testing import ServiceClient

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA = {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3}


def test_the_model_learns_the_iris_data() -> None:
    assert service.TRAINING_ACCURACY > 0.9
    assert service.SPECIES == ["setosa", "versicolor", "virginica"]


def test_each_row_gets_its_species() -> None:
    with ServiceClient(service.service) as client:
        answer = client.post("/predict", json={"flowers": [SETOSA, VIRGINICA]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == ["setosa", "virginica"]


def test_the_columns_shape_gives_the_same_answer() -> None:
    columns = {name: [SETOSA[name], VIRGINICA[name]] for name in SETOSA}
    with ServiceClient(service.service) as client:
        assert client.post("/predict", json={"flowers": columns}).json() == ["setosa", "virginica"]


def test_a_missing_column_is_refused_with_the_names_to_send() -> None:
    with ServiceClient(service.service) as client:
        answer = client.post("/predict", json={"flowers": [{"sepal_length": 5.0}]})
    assert answer.status_code == 400
    assert "petal_width" in answer.json()["detail"]
