{{ ("Code shared by the DAGs of " ~ project_name ~ ".") | pyrepr }}
