# Sourced by the bench scripts. select_sidecar REPO sets sidecar_cmd (an array) and sidecar_kind: the sidecar under
# test is FLUID_SIDECAR_BINARY (the published Native AOT binary that ships, or a .dll) when set, else the JIT Release
# build of REPO/sidecar, built (incrementally) every time so a bench never measures stale code.
select_sidecar() {
    local repo="$1"
    if [[ -n "${FLUID_SIDECAR_BINARY:-}" ]]; then
        [[ -f "$FLUID_SIDECAR_BINARY" ]] || { echo "FLUID_SIDECAR_BINARY=$FLUID_SIDECAR_BINARY: no such file" >&2; exit 1; }
        if [[ "$FLUID_SIDECAR_BINARY" == *.dll ]]; then sidecar_cmd=(dotnet "$FLUID_SIDECAR_BINARY"); else sidecar_cmd=("$FLUID_SIDECAR_BINARY"); fi
        sidecar_kind="binary $FLUID_SIDECAR_BINARY"
    else
        local log
        log="$(mktemp)"
        dotnet build "$repo/sidecar" -c Release -nologo -clp:ErrorsOnly >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
        rm -f "$log"
        sidecar_cmd=(dotnet "$repo/sidecar/bin/Release/net10.0/fluid-sidecar.dll")
        sidecar_kind="JIT build (${sidecar_cmd[1]})"
    fi
}
