#!/bin/sh
# Install vmo-agent as a systemd service on this machine.
#
#   sudo ./install.sh --server https://vmo.example.com --token-file ./token [--labels k=v,k2=v2]
#                     [--run-as USER] [--bundle vmo-agent.mjs]
#   sudo ./install.sh --server https://vmo.example.com --enrol-file ./enrol-token [--name N]
#                     [--no-start] [...]
#
# The token (vmo_agt_…) comes from --token-file, or from the VMO_AGENT_TOKEN environment
# variable; --token T also works but puts it in `ps` for every user while this runs. It is kept
# in /etc/vmo-agent/token (root, 0600). Jobs run as --run-as (default vmo-job, created here if
# missing), never as root and never as a user that can read the token.
# With --enrol-file (an enrolment token, vmo_enr_…, kept in /etc/vmo-agent/enrol-token, 0600) the
# agent enrols on its first start, as --name (default: the hostname), and keeps its own token in
# /var/lib/vmo-agent/agent.token: install this way in a machine image, once, for a whole fleet,
# with --no-start (enabled, not started: the image itself must not enrol, and must not carry a
# /var/lib/vmo-agent/agent.token, or every machine made from it would be the same agent).
#
# Expects vmo-agent.mjs (npm run build -w @vmo/agent) and vmo-agent.service beside this script
# (or run it from the repository: services/agent/deploy/install.sh).
set -eu

PREFIX=/opt/vmo-agent
CONF_DIR=/etc/vmo-agent
ENV_FILE=$CONF_DIR/agent.env
TOKEN_FILE=$CONF_DIR/token
ENROL_FILE=$CONF_DIR/enrol-token
STATE_DIR=/var/lib/vmo-agent
OLD_ENV_FILE=/etc/vmo-agent.env
UNIT_FILE=/etc/systemd/system/vmo-agent.service
JOB_HOME=/var/lib/vmo-job

die() { echo "install.sh: $*" >&2; exit 1; }
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
server=''
token=${VMO_AGENT_TOKEN:-}
token_file=''
enrol_file=''
name=''
start=yes
labels=''
bundle=''
run_as=vmo-job
while [ $# -gt 0 ]; do
  case $1 in
    --server) [ $# -ge 2 ] || die "--server needs a value"; server=$2; shift 2 ;;
    --server=*) server=${1#*=}; shift ;;
    --token-file) [ $# -ge 2 ] || die "--token-file needs a value"; token_file=$2; shift 2 ;;
    --token-file=*) token_file=${1#*=}; shift ;;
    --token) [ $# -ge 2 ] || die "--token needs a value"; token=$2; shift 2
      echo "install.sh: warning: --token shows the token to every user in ps; prefer --token-file" >&2 ;;
    --token=*) token=${1#*=}; shift
      echo "install.sh: warning: --token shows the token to every user in ps; prefer --token-file" >&2 ;;
    --enrol-file) [ $# -ge 2 ] || die "--enrol-file needs a value"; enrol_file=$2; shift 2 ;;
    --enrol-file=*) enrol_file=${1#*=}; shift ;;
    --name) [ $# -ge 2 ] || die "--name needs a value"; name=$2; shift 2 ;;
    --name=*) name=${1#*=}; shift ;;
    --no-start) start=no; shift ;;
    --labels) [ $# -ge 2 ] || die "--labels needs a value"; labels=$2; shift 2 ;;
    --labels=*) labels=${1#*=}; shift ;;
    --run-as) [ $# -ge 2 ] || die "--run-as needs a value"; run_as=$2; shift 2 ;;
    --run-as=*) run_as=${1#*=}; shift ;;
    --bundle) [ $# -ge 2 ] || die "--bundle needs a value"; bundle=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

[ -n "$server" ] || die "--server is required (e.g. https://vmo.example.com)"
case $server in http://*|https://*) ;; *) die "--server must start with http:// or https://" ;; esac
enrol_token=''
if [ -n "$enrol_file" ]; then
  [ -z "$token_file" ] && [ -z "$token" ] || die "--enrol-file and an agent token are both given: the agent enrols for its own token, give one or the other"
  [ -r "$enrol_file" ] || die "--enrol-file: cannot read $enrol_file"
  enrol_token=$(head -n 1 -- "$enrol_file" | tr -d '\r')
  case $enrol_token in vmo_enr_*) ;; *) die "--enrol-file must hold an enrolment token (vmo_enr_…, from POST /v1/enrolment-tokens)" ;; esac
else
  [ -z "$name" ] || die "--name is the name to enrol under: it needs --enrol-file"
  if [ -n "$token_file" ]; then
    [ -r "$token_file" ] || die "--token-file: cannot read $token_file"
    token=$(head -n 1 -- "$token_file" | tr -d '\r')
  fi
  [ -n "$token" ] || die "a token is required: --token-file FILE (or VMO_AGENT_TOKEN), or --enrol-file FILE to enrol"
  case $token in vmo_agt_*) ;; *) die "the token must be an agent token (vmo_agt_…)" ;; esac
fi
case $run_as in root|0) die "--run-as root would let every job read the agent's token; name an unprivileged user" ;; esac
[ "$(id -u)" -eq 0 ] || die "run as root (sudo): it writes $CONF_DIR and $UNIT_FILE"
command -v systemctl >/dev/null 2>&1 || die "systemctl not found: this installer needs systemd"
command -v setpriv >/dev/null 2>&1 || die "setpriv not found: install util-linux (the agent uses it to run jobs as $run_as)"

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

# The job user: no login, no sudo, a home of its own for the jobs' files.
if ! id "$run_as" >/dev/null 2>&1; then
  [ "$run_as" = vmo-job ] || die "--run-as: no user $run_as on this machine (create it first)"
  nologin=$(command -v nologin || echo /bin/false)
  useradd --system --user-group --create-home --home-dir "$JOB_HOME" --shell "$nologin" vmo-job
fi
install -d -m 0755 "$PREFIX"
install -m 0755 "$bundle" "$PREFIX/vmo-agent.mjs"
install -d -m 0700 -o root -g root "$CONF_DIR"

# Written under umask 077, then moved: the token is never readable by others, not even briefly.
if [ -n "$enrol_token" ]; then
  tmp=$(umask 077 && mktemp "$ENROL_FILE.XXXXXX")
  printf '%s\n' "$enrol_token" >"$tmp"
  mv -f "$tmp" "$ENROL_FILE"
  # The agent creates it 0700 and keeps its own token there after enrolling.
  install -d -m 0700 -o root -g root "$STATE_DIR"
else
  tmp=$(umask 077 && mktemp "$TOKEN_FILE.XXXXXX")
  printf '%s\n' "$token" >"$tmp"
  mv -f "$tmp" "$TOKEN_FILE"
fi

tmp=$(umask 077 && mktemp "$ENV_FILE.XXXXXX")
{
  echo "VMO_SERVER=$server"
  echo "VMO_RUN_AS=$run_as"
  if [ -n "$enrol_token" ]; then
    echo "VMO_AGENT_STATE_DIR=$STATE_DIR"
    echo "VMO_AGENT_ENROL_TOKEN_FILE=$ENROL_FILE"
    [ -z "$name" ] || echo "VMO_AGENT_NAME=$name"
  else
    echo "VMO_AGENT_TOKEN_FILE=$TOKEN_FILE"
  fi
  [ -z "$labels" ] || echo "VMO_AGENT_LABELS=$labels"
} >"$tmp"
chmod 0600 "$tmp"
mv -f "$tmp" "$ENV_FILE"
# An earlier install kept the token in this environment file: it is not used any more.
rm -f "$OLD_ENV_FILE"

sed "s|^ExecStart=/usr/bin/env node |ExecStart=$node |" "$here/vmo-agent.service" >"$UNIT_FILE"
chmod 0644 "$UNIT_FILE"

systemctl daemon-reload
systemctl enable vmo-agent.service >/dev/null
if [ "$start" = no ]; then
  echo "vmo-agent installed and enabled, not started (server $server, jobs run as $run_as): it starts at the next boot"
  exit 0
fi
systemctl restart vmo-agent.service
echo "vmo-agent installed and started (server $server, jobs run as $run_as). Logs: journalctl -u vmo-agent -f"
