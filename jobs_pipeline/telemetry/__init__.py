"""Canonical job telemetry: events (:mod:`.events`), the emitter protocol (:mod:`.emitter`)
and the emitters. Import from the submodules (no eager imports here)."""
