"""The domain operations. Each takes its dependencies as an argument."""
