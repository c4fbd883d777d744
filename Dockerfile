# jobrunner in a container: a build stage with the -dev packages, and a slim runtime stage with
# only the shared libraries jobrunner links and Open MPI (with its PMIx client, so ranks can be
# started by mpirun inside the image, by an mpirun on the host, or by `srun --mpi=pmix`).
#   scripts/container/build-image                   # podman, no registry needed (see README)
#   podman build -t jobrunner .                     # or docker build, from docker.io's debian:12
#   podman run --rm -v "$PWD/runs:/runs" jobrunner  # runs the demo on 3 ranks into ./runs
# The runtime stage must keep Open MPI's major version (4.1) and PMIx's (4.x) when ranks are
# started from outside the image: both sides of the PMIx connection come from Debian 12.
ARG BASE_IMAGE=debian:12

FROM ${BASE_IMAGE} AS build
# What scripts/install-deps installs to build, without what only the tests need.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       g++ make cmake libopenmpi-dev libboost-mpi-dev libboost-serialization-dev \
       libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev \
       libssl-dev zlib1g-dev libzstd-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
# The object files are removed in the same step, so the layer holds only the installed binary.
# bench/ is not in the build context (.dockerignore), so neither is the simulator it builds.
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DJOBRUNNER_BUILD_SIM=OFF >/dev/null \
    && cmake --build /build -j "$(nproc)" --target jobrunner \
    && cmake --install /build --prefix /opt/jobrunner --strip \
    && rm -rf /build

FROM ${BASE_IMAGE}
# The libraries `ldd jobrunner` names, openmpi-bin for mpirun (it brings libopenmpi3 and
# libpmix2, the PMIx client that `srun --mpi=pmix` and a host's mpirun talk to), and python3 for
# `kind: python` tasks.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       openmpi-bin libboost-mpi1.74.0 libboost-serialization1.74.0 libyaml-cpp0.7 \
       libspdlog1.10 libfmt9 libssl3 zlib1g libzstd1 python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 --user-group --shell /bin/bash jobrunner \
    && mkdir /runs && chown jobrunner:jobrunner /runs
COPY --from=build /opt/jobrunner/bin/jobrunner /usr/local/bin/jobrunner
COPY --from=build /opt/jobrunner/share/jobrunner /usr/local/share/jobrunner
COPY config/*.yaml config/*.py /examples/
# Open MPI settings for a container: more ranks than the container's cores is normal here
# (rank 0 mostly waits); ranks are not bound to cores, since the container's CPU set is not
# Open MPI's to divide (jobrunner spreads its tasks over the CPUs it may use); and the
# shared-memory transport copies through /dev/shm rather than with process_vm_readv, which the
# default seccomp profile and missing CAP_SYS_PTRACE forbid.
ENV OMPI_MCA_rmaps_base_oversubscribe=1 \
    OMPI_MCA_hwloc_base_binding_policy=none \
    OMPI_MCA_btl_vader_single_copy_mechanism=none \
    PYTHONPATH=/usr/local/share/jobrunner/python
USER jobrunner
# Runs land in /runs/jobrunner-out/<manifest>-<time>/: mount a directory there to keep them.
WORKDIR /runs
CMD ["mpirun", "-n", "3", "jobrunner", "/examples/demo.yaml"]
