"""What the provider did, to whom, and how fast: metric names, audit records, lineage names (plain Python).

No Airflow here: the clients (``hooks.hishamos``, ``export.git``) report through :mod:`.events`,
and ``operators.observed`` (the thin Airflow part) turns steps and events into Stats metrics,
audit lines and OpenLineage datasets.
"""
