# scripts/lib/common.sh — shared by the scripts in scripts/ (sourced).
# Installs what is missing, builds, and sets the MPI environment this machine
# kind needs (root, more ranks than cores).
set -euo pipefail
PSREC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$PSREC_ROOT/build}
# iproute2 and util-linux (ip, unshare): the two-host test's namespaces.
PSREC_PACKAGES=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev
                libprotobuf-c-dev protobuf-c-compiler libopenblas-dev check
                iproute2 util-linux)

# as_root CMD... — run as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "psrec: installing packages needs root; run as root or install sudo" >&2
        exit 1
    fi
}

# ensure_packages [PACKAGE...] — installs the Debian packages given (by
# default those psrec needs), if any is missing.
ensure_packages() {
    local wanted=("$@") missing=()
    [ $# -gt 0 ] || wanted=("${PSREC_PACKAGES[@]}")
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "psrec: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get -o DPkg::Lock::Timeout=600 update -q
    as_root apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
        "${missing[@]}"
}

# build DIR [CMAKE OPTIONS...] — configure and build psrec into DIR.
build() {
    local dir=$1
    shift
    cmake -S "$PSREC_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" --parallel "$(nproc)" -- --no-print-directory >/dev/null ||
        cmake --build "$dir" -- --no-print-directory # rerun to show the errors
}

# Open MPI refuses root without these; more ranks than cores need
# oversubscription; one BLAS thread per rank avoids fighting over cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
