"""Which fitted model a registry version is judged by.

A registered version may be a *final* model, refitted on every labeled row (training and
holdout, `ml/models/refit.py`). Its holdout scores would then come from rows it was fitted on, so
the gate judges it by its *evidence* model instead: the same family and parameters fitted on the
training split only, named by the version's `evidence_model_uri` tag. A version without the tag
was fitted on the training split only and is its own evidence.
"""

EVIDENCE_TAG = "evidence_model_uri"


def load_evidence_model(registry, version: str):
    """Load the evidence model of `version` of `registry` (a ModelRegistry).

    Returns the fitted Pipeline. Raises the registry's RegistryError when it does not load.
    """
    import mlflow

    from churn_assets.resources.model_registry import RegistryError

    uri = registry.version_tags(version).get(EVIDENCE_TAG)
    if not uri:
        return registry.load(version)
    try:
        if uri.startswith("models:/m-"):  # a logged model: read its own storage via this client
            uri = registry.client.get_logged_model(uri.removeprefix("models:/")).artifact_location
        return mlflow.sklearn.load_model(uri)
    except Exception as exc:  # any failure to load means "no evidence", whatever its type
        raise RegistryError(
            f"the evidence model of version {version} of '{registry.name}' ({uri}) does not "
            f"load: {str(exc).splitlines()[0]}"
        ) from exc
