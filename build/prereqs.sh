# Sourced by run.sh and test.sh: installs what Maskwork needs when it is missing.
# Debian packages are installed when running as root (or through sudo); otherwise we say what to install.

mw_apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
      echo "Maskwork needs these Debian packages: ${missing[*]}" >&2
      echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
      return 1
    fi
  fi
  echo "installing ${missing[*]} ..." >&2
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null || {
    echo "apt-get install ${missing[*]} failed" >&2; return 1; }
}

mw_require_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "The .NET 10 SDK is required: https://dot.net (or apt-get install dotnet-sdk-10.0 from Microsoft's feed)." >&2
    return 1
  fi
  if ! dotnet --list-sdks | grep -q '^10\.'; then
    echo "The .NET 10 SDK is required; found: $(dotnet --list-sdks | tr '\n' ' ')" >&2
    return 1
  fi
}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
