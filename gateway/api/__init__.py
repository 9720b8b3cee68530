"""The gateway's HTTP API (FastAPI): health, metrics, devices, dead letters, mounted routers."""
