# newsalert worker image: slim, non-root, config at /etc/newsalert/config.toml, state on a volume.
FROM python:3.11-slim AS build
# A C compiler for the matching engine, which setup.py compiles with mypyc; the final image needs none.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY service ./service
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/newsalert newsalert \
    && mkdir -p /etc/newsalert /var/lib/newsalert \
    && chown newsalert /var/lib/newsalert
COPY --from=build /install /usr/local
# The offline demo, so `docker run newsalert` shows something; mount your own config over it.
COPY config.example.toml /etc/newsalert/config.toml
COPY examples /etc/newsalert/examples
ENV NEWSALERT_CONFIG=/etc/newsalert/config.toml \
    NEWSALERT_STORE=/var/lib/newsalert \
    NEWSALERT_HTTP_HOST=0.0.0.0 \
    NEWSALERT_HTTP_PORT=8080 \
    NEWSALERT_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
USER newsalert
WORKDIR /var/lib/newsalert
VOLUME ["/var/lib/newsalert"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["newsalert"]
CMD ["run"]
