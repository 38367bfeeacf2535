{{ (service_name ~ ".") | pyrepr }}
