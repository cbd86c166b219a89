"""HealthCode: the shared package deployed as a Lambda layer and imported by every function."""
