"""Security suites in-process: the template's functions on in-process moto (``infra.local.inprocess``)
with injected DynamoDB faults (faults, retries, the case transaction)."""
