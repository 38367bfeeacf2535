"""{{ service_name }}."""
