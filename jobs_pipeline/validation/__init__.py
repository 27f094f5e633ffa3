"""Feed validation: rulesets as data (:mod:`.ruleset`), a vectorised engine
(:func:`.engine.validate_file`: file + ruleset -> counts, errors by field and rule, a capped
sample of failing records) and its result (:mod:`.result`). Import from the submodules.
"""
