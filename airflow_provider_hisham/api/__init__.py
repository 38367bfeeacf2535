"""Plain-Python pieces of the HishamOS client (no Airflow imports): errors, auth, retries, idempotency.

``airflow_provider_hisham.hooks.hishamos.HishamOSHook`` wires them onto Airflow's HttpHook.
"""
