"""The demo run (``make demo``) and its seeded sample feeds."""
