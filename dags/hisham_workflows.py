"""Every workflow config in ``dags/workflows/`` (YAML or JSON) as an Airflow DAG.

This one file is the whole DAG factory deployment: add a config to the folder and its DAG
appears. An invalid config shows up as an import error of that config's own file (file, step,
field and line of every mistake) while the valid ones beside it keep loading.
"""

from pathlib import Path

from airflow_provider_hisham.workflow import load_dags

load_dags(Path(__file__).parent / "workflows", globals())
