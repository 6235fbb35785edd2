#!/usr/bin/env bash
# Regenerates the checked-in public API of the shared packages (abstractions/.../PublicAPI.txt,
# backend/.../PublicAPI.txt) from the built assemblies, by reflection. Commit the result with the change.
set -euo pipefail
cd "$(dirname "$0")/.."
MASKWORK_UPDATE_PUBLIC_API=1 dotnet test tests/Maskwork.EndToEnd.Tests -nologo -v quiet \
  --filter "FullyQualifiedName~Maskwork.EndToEnd.Tests.PublicApiTests" "$@"
git --no-pager diff --stat -- abstractions/Maskwork.Abstractions/PublicAPI.txt backend/Maskwork.Backend/PublicAPI.txt || true
