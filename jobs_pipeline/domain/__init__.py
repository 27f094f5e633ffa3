"""The domain: the job model, the error taxonomy, the transient classifier, the retry policy and
the one backoff function. It imports nothing else of the project."""
