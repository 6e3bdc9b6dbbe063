# newsalert worker image: slim, non-root, config at /etc/newsalert/config.toml, state on a volume.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/newsalert newsalert \
    && mkdir -p /etc/newsalert /var/lib/newsalert \
    && chown newsalert /var/lib/newsalert
COPY --from=build /install /usr/local
COPY config.example.toml /etc/newsalert/config.toml
COPY examples /etc/newsalert/examples
ENV NEWSALERT_CONFIG=/etc/newsalert/config.toml \
    NEWSALERT_STORE=/var/lib/newsalert \
    NEWSALERT_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
USER newsalert
WORKDIR /var/lib/newsalert
VOLUME ["/var/lib/newsalert"]
ENTRYPOINT ["newsalert"]
CMD ["run"]
