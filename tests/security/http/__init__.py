"""Security suites over HTTP, each on local stacks started as processes (token attacks, the
authorization matrix, mass assignment, fuzzing, hostile input, races, load, personal data)."""
