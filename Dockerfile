# One image for every Housecall role (gateway, edge agent, simulator): the command picks the role.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY housecall ./housecall
COPY gateway ./gateway
COPY edge ./edge
COPY detectors ./detectors
COPY simulators ./simulators
COPY tests ./tests
RUN pip install --no-cache-dir .
RUN useradd --create-home housecall
USER housecall
WORKDIR /home/housecall
ENTRYPOINT ["housecall"]
CMD ["gateway"]
