"""Plain-Python pieces of the HishamOS client (no Airflow imports): errors, auth, retries, idempotency,
transport (base URL, keep-alive adapter).

``airflow_provider_hisham.hooks.hishamos.HishamOSHook`` wires them into an Airflow hook.
"""
