# jobrunner in a container: a build stage with the -dev packages, and a slim runtime with only
# the shared libraries and Open MPI.
#   podman build -t jobrunner .
#   podman run --rm jobrunner                       # runs the demo on 3 ranks
FROM debian:12 AS build
COPY scripts/install-deps /src/scripts/install-deps
RUN /src/scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    && cmake --build /build -j "$(nproc)" \
    && cmake --install /build --prefix /opt/jobrunner

FROM debian:12
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       openmpi-bin libboost-mpi1.74.0 libboost-serialization1.74.0 libyaml-cpp0.7 \
       libspdlog1.10 libfmt9 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 jobrunner
COPY --from=build /opt/jobrunner/bin/jobrunner /usr/local/bin/jobrunner
COPY config/ /examples/
USER jobrunner
WORKDIR /home/jobrunner
CMD ["mpirun", "--oversubscribe", "-n", "3", "jobrunner", "/examples/demo.yaml"]
