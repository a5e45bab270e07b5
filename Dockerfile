# One image for the simulator, the reference payment service and Locust (master and
# workers): docker-compose.yml picks the command. Offline after the build.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PYTHONPATH=/app
WORKDIR /app

# Dependencies first, so that editing the code does not reinstall them.
COPY pyproject.toml README.md ./
COPY simulator ./simulator
COPY contracts ./contracts
RUN pip install ".[load]"

COPY scenarios ./scenarios
COPY loadtests ./loadtests
COPY examples ./examples

# 12111 simulator, 8000 reference payment service, 8089 Locust's web UI, 5557 Locust's
# master <-> worker channel.
EXPOSE 12111 8000 8089 5557
CMD ["paysandbox", "serve"]
