"""Load testing: the load contract (``contracts/load.yaml``), the Locust runner and SLA evaluation.

Locust itself never runs in this process (its gevent monkey-patching would leak into the harness
and pytest): ``runner.run_load`` starts it as a subprocess on the profiles in ``load/``.
"""
