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

# mw_npm_fetch NAME VERSION [PATH...]: fetches the npm package NAME@VERSION with `npm pack` (the registry's ordinary
# client) into ${XDG_CACHE_HOME:-$HOME/.cache}/maskwork/npm and unpacks it once to .../NAME-VERSION/package (only the
# PATHs inside the package when given); a no-op when it is cached. Nothing in Maskwork fetches at run time.
mw_npm_fetch() {
  local name=$1 version=$2; shift 2
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/maskwork/npm"
  local dest="$cache/$name-$version"
  [ -f "$dest/package/package.json" ] && return 0
  command -v npm >/dev/null 2>&1 || mw_apt_install npm || return 1
  mkdir -p "$cache" || return 1
  local tmp; tmp=$(mktemp -d "$cache/.fetch-$name.XXXXXX") || return 1
  echo "fetching npm package $name@$version into $dest ..." >&2
  local paths=(package/package.json); for p in "$@"; do paths+=("package/${p%/}"); done
  [ $# -eq 0 ] && paths=(package)
  if (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null) && mkdir -p "$tmp/out" &&
     tar -xzf "$tmp/$name-$version.tgz" -C "$tmp/out" "${paths[@]}" && mv -T "$tmp/out" "$dest"; then
    rm -rf "$tmp"; return 0
  fi
  rm -rf "$tmp"
  echo "could not fetch npm package $name@$version (npm pack $name@$version); check the network or the npm registry" >&2
  return 1
}
