#!/bin/sh
# Install vmo-agent as a systemd service on this machine.
#
#   sudo ./install.sh --server https://vmo.example.com --token vmo_agt_… [--labels k=v,k2=v2]
#
# Expects vmo-agent.mjs (npm run build -w @vmo/agent) and vmo-agent.service beside this script
# (or run it from the repository: services/agent/deploy/install.sh). The token may also come
# from the VMO_AGENT_TOKEN environment variable, which keeps it out of `ps`.
set -eu

PREFIX=/opt/vmo-agent
ENV_FILE=/etc/vmo-agent.env
UNIT_FILE=/etc/systemd/system/vmo-agent.service
SERVICE_USER=vmo-agent
STATE_DIR=/var/lib/vmo-agent

die() { echo "install.sh: $*" >&2; exit 1; }
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
server=''
token=${VMO_AGENT_TOKEN:-}
labels=''
bundle=''
while [ $# -gt 0 ]; do
  case $1 in
    --server) [ $# -ge 2 ] || die "--server needs a value"; server=$2; shift 2 ;;
    --server=*) server=${1#*=}; shift ;;
    --token) [ $# -ge 2 ] || die "--token needs a value"; token=$2; shift 2 ;;
    --token=*) token=${1#*=}; shift ;;
    --labels) [ $# -ge 2 ] || die "--labels needs a value"; labels=$2; shift 2 ;;
    --labels=*) labels=${1#*=}; shift ;;
    --bundle) [ $# -ge 2 ] || die "--bundle needs a value"; bundle=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

[ -n "$server" ] || die "--server is required (e.g. https://vmo.example.com)"
case $server in http://*|https://*) ;; *) die "--server must start with http:// or https://" ;; esac
[ -n "$token" ] || die "--token is required (an agent token, vmo_agt_…)"
case $token in vmo_agt_*) ;; *) die "--token must be an agent token (vmo_agt_…)" ;; esac
[ "$(id -u)" -eq 0 ] || die "run as root (sudo): it writes $ENV_FILE and $UNIT_FILE"
command -v systemctl >/dev/null 2>&1 || die "systemctl not found: this installer needs systemd"

node=$(command -v node) || die "node not found: install Node.js 20 or newer"
"$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "Node.js 20 or newer is needed, found $("$node" --version)"

if [ -z "$bundle" ]; then
  for candidate in "$here/vmo-agent.mjs" "$here/../dist/vmo-agent.mjs"; do
    if [ -f "$candidate" ]; then bundle=$candidate; break; fi
  done
fi
[ -n "$bundle" ] && [ -f "$bundle" ] || die "vmo-agent.mjs not found (build it: npm run build -w @vmo/agent, or pass --bundle)"
[ -f "$here/vmo-agent.service" ] || die "vmo-agent.service not found beside install.sh"

if ! id "$SERVICE_USER" >/dev/null 2>&1; then
  nologin=$(command -v nologin || echo /bin/false)
  useradd --system --user-group --home-dir "$STATE_DIR" --shell "$nologin" "$SERVICE_USER"
fi
install -d -m 0755 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
install -d -m 0755 "$PREFIX"
install -m 0755 "$bundle" "$PREFIX/vmo-agent.mjs"

# Written under umask 077, then moved: the token is never readable by others, not even briefly.
tmp=$(umask 077 && mktemp "$ENV_FILE.XXXXXX")
{
  echo "VMO_SERVER=$server"
  echo "VMO_AGENT_TOKEN=$token"
  [ -z "$labels" ] || echo "VMO_AGENT_LABELS=$labels"
} >"$tmp"
chmod 0600 "$tmp"
mv -f "$tmp" "$ENV_FILE"

sed "s|^ExecStart=/usr/bin/env node |ExecStart=$node |" "$here/vmo-agent.service" >"$UNIT_FILE"
chmod 0644 "$UNIT_FILE"

systemctl daemon-reload
systemctl enable vmo-agent.service >/dev/null
systemctl restart vmo-agent.service
echo "vmo-agent installed and started (server $server). Logs: journalctl -u vmo-agent -f"
