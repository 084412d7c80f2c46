#!/usr/bin/env bash
# Installs the tools the e2e suite (test/e2e/run.mjs) needs, offline-safely, into .cache/code-server:
# code-server 4.100.3 (VS Code 1.100.3, the newest whose engines.node is 20) as a LOCAL npm install.
# Debian's chromium, libkrb5-dev (code-server's kerberos build) and ripgrep come from apt
# (.ci/run installs them). Quick and idempotent when already installed.
# See test/e2e/README.md for why each environment variable is set.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="4.100.3"
tools="$root/.cache/code-server"
bin="$tools/node_modules/.bin/code-server"
stamp="$tools/.installed-$version"

if [[ -f "$stamp" && -x "$bin" ]]; then
	echo "setup-e2e: code-server $version already installed in .cache/code-server"
	exit 0
fi

for tool in rg; do
	if ! command -v "$tool" >/dev/null; then
		echo "setup-e2e: '$tool' is missing: apt-get install -y chromium libkrb5-dev ripgrep" >&2
		exit 1
	fi
done
if [[ ! -e /usr/include/gssapi/gssapi.h && ! -e /usr/include/krb5.h ]]; then
	echo "setup-e2e: libkrb5-dev is missing (code-server's kerberos module builds against it): apt-get install -y libkrb5-dev" >&2
	exit 1
fi

mkdir -p "$tools"
work="$(mktemp -d "$root/.cache/setup-e2e.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# @vscode/ripgrep 1.15.11 looks for this tarball in $TMPDIR before it calls GitHub; Debian's rg does.
cache="$work/vscode-ripgrep-cache-1.15.11"
mkdir -p "$cache/bin"
cp "$(command -v rg)" "$cache/bin/rg"
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
	tar -C "$cache/bin" -czf "$cache/ripgrep-v13.0.0-10-$target.tar.gz" rg
done

cd "$tools"
[[ -f package.json ]] || echo '{ "name": "crossbar-lens-e2e-tools", "private": true }' > package.json
echo "setup-e2e: installing code-server $version into .cache/code-server (2–3 minutes)…"
# nodedir: node-gyp builds (node-pty, argon2) against the installed headers instead of downloading them.
if [[ -z "${npm_config_nodedir:-}" && -f /usr/include/node/node.h ]]; then
	export npm_config_nodedir=/usr
fi
# npm ≥ 11.16 skips dependency install scripts unless allowed; code-server's postinstall (which
# installs lib/vscode, node-pty, argon2, ripgrep) is the whole point, and nested installs inherit env.
TMPDIR="$work" npm_config_dangerously_allow_all_scripts=true \
	npm_config_yes=true npm_config_unsafe_perm=true npm_config_global=false \
	npm_config_cache="$root/.cache/npm" npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
	npm install --no-save --no-package-lock "code-server@$version"
"$bin" --version >/dev/null 2>&1 || { echo "setup-e2e: code-server did not install correctly" >&2; exit 1; }
touch "$stamp"
echo "setup-e2e: code-server $version installed"
