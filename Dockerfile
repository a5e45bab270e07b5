# One image for the simulator, the reference payment service and Locust (master and
# workers): docker-compose.yml picks the command. Offline after the build.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Installed as a user installs it (not editable): the Locust suites, the reference service
# and the ready-made scenarios are packages of the distribution. The source stays in /app
# only for `locust -f paysandbox/loadtests/checkout.py`, which takes a file path.
COPY pyproject.toml README.md ./
COPY paysandbox ./paysandbox
RUN pip install ".[load,mcp]"

# 12111 simulator, 8000 reference payment service, 8089 Locust's web UI, 5557 Locust's
# master <-> worker channel.
EXPOSE 12111 8000 8089 5557
CMD ["paysandbox", "serve"]
