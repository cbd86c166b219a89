"""The local stack: the whole SAM application on moto, read from template.yaml."""
