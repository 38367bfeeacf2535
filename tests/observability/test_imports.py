"""The observability package is plain Python: importing it imports no Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_observability_package_imports_no_airflow():
    script = ("import json, sys; import airflow_provider_hisham.observability.audit, "
              "airflow_provider_hisham.observability.events, airflow_provider_hisham.observability.lineage, "
              "airflow_provider_hisham.observability.metrics; "
              "print(json.dumps(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))))")
    out = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=str(REPO)),
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
