"""Publishing helpers shared by the approval gate (plain Python, no Airflow)."""
