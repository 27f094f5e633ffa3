"""Queue publishing behind ``QueuePublisher`` (:mod:`.publisher`); backends are chosen by
:mod:`.queue_factory`. Import from the submodules (no eager imports here)."""
