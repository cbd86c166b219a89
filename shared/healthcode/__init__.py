"""HealthCode: the shared package deployed as a Lambda layer and imported by every function."""

from healthcode import snapstart as _snapstart

# Every function imports this package, so every function registers the SnapStart hooks (a no-op
# outside Lambda's managed runtime): Lambda runs only hooks registered by imported modules.
_snapstart.register()
