#!/usr/bin/env bash
# Runs samples/ProxyHost on its embedded default configuration (demo backends included) after installing
# prerequisites. Extra arguments go to ProxyHost, e.g. `eng/run-proxyhost.sh --config my.json` or `... doctor`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash eng/install-prereqs.sh
dotnet build samples/ProxyHost -c Release -nologo -clp:ErrorsOnly
exec dotnet samples/ProxyHost/bin/Release/net10.0/ProxyHost.dll "$@"
