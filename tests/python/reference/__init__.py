"""Plain pure-numpy reference implementations used to check emkit's results in tests."""
