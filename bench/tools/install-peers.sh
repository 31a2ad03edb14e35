# Sourced by the bench scripts: installs the peers a benchmark needs, only those that are missing, so that a machine
# where only the README's commands ran can run any bench. Needs root (or sudo) for Debian packages.
#
#   source bench/tools/install-peers.sh
#   need_debian wrk=wrk nginx=nginx-light s3fs=s3fs /usr/bin/aws=awscli   # PROBE=PACKAGE: a command or a path
#   need_python                                                           # python3 with boto3, moto_server
#   need_s3rver REPO                                                      # REPO/tests/node/node_modules (npm ci)

if [[ -d "$HOME/.pyenv/shims" && ":$PATH:" != *":$HOME/.pyenv/shims:"* ]]; then
    export PATH="$HOME/.pyenv/shims:$PATH"
fi
[[ ":$PATH:" == *":/usr/sbin:"* ]] || export PATH="$PATH:/usr/sbin"

_peers_as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

need_debian() { # PROBE=PACKAGE ...
    local missing=() pair probe
    for pair in "$@"; do
        probe="${pair%%=*}"
        if ! command -v "$probe" >/dev/null 2>&1 && [[ ! -e "$probe" ]]; then
            missing+=("${pair#*=}")
        fi
    done
    ((${#missing[@]})) || return 0
    echo "installing Debian packages: ${missing[*]}" >&2
    _peers_as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive _peers_as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

need_python() { # python3 with boto3 and moto_server (the versions tests/run.sh installs)
    local missing=()
    python3 -c 'import boto3' 2>/dev/null || missing+=(boto3)
    command -v moto_server >/dev/null 2>&1 || missing+=('moto[server]==5.2.1')
    ((${#missing[@]})) || return 0
    echo "installing Python packages: ${missing[*]}" >&2
    python3 -m pip install --quiet "${missing[@]}"
}

need_s3rver() { # REPO
    need_debian node=nodejs npm=npm
    [[ -f "$1/tests/node/node_modules/s3rver/bin/s3rver.js" ]] || npm ci --prefix "$1/tests/node" --no-audit --no-fund --loglevel=error
}
