"""What every test runs under: a development environment, said explicitly."""

from __future__ import annotations

import os

# A deployment that names no environment is production, which refuses the default secrets
# the tests' own settings use; the deployments they start say "test" themselves.
os.environ["TAIZHANG_ENVIRONMENT"] = "development"
os.environ.pop("TAIZHANG_DEMO_SIGN_IN", None)
