"""Developer tools that drive the real app: a server launcher and the load test (benchmarks/ uses the launcher too)."""
