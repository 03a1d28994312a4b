"""Developer tools that drive the real app: a server launcher, the load test and the app benchmark."""
