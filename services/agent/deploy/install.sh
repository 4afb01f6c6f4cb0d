#!/bin/sh
# Install vmo-agent on this machine (as a systemd service where systemd runs), or --uninstall it.
#
#   curl -fsSL $SERVER/v1/agent/install.sh | sudo sh -s -- --server $SERVER --token-file ./web-1.token
#   sudo sh install.sh --server https://vmo.example.com --token-file ./token [options]
#   sudo sh install.sh --server https://vmo.example.com --enrol-file ./enrol-token [--name N] [--no-start]
#   sudo sh install.sh --uninstall [--prefix DIR]
#
#   --server URL        the control plane (required to install): https://, or http:// to this
#                       machine only (127.0.0.0/8, ::1, localhost)
#   --insecure-http     accept an http:// server elsewhere anyway: the token then crosses the
#                       network in cleartext, and the agent and its sha256 come unauthenticated
#   --token-file FILE   this agent's token (vmo_agt_…; `vmo agents add NAME` writes one), or the
#                       VMO_AGENT_TOKEN environment variable. Never on the command line: there
#                       every user of the machine could read it (ps).
#   --enrol-file FILE   instead: an enrolment token (vmo_enr_…); the agent enrols on its first start
#   --name N            with --enrol-file, the name to enrol under (default: the hostname); with
#                       --token-file, the name the token must belong to (checked)
#   --labels k=v,…      labels the agent reports
#   --run-as USER       jobs run as USER (default vmo-job, created here, when installed as root)
#   --prefix DIR        everything in DIR (DIR/vmo-agent.mjs, DIR/etc/, DIR/state/) instead of
#                       /opt/vmo-agent, /etc/vmo-agent and /var/lib/vmo-agent
#   --no-service        no systemd unit: start it yourself with DIR/vmo-agent (needed where
#                       systemd does not run; then root is needed only for --run-as)
#   --no-start          enable the service without starting it (machine images with --enrol-file)
#   --bundle FILE       install this vmo-agent.mjs instead of downloading it from --server (this
#                       copy, run from the repository, builds it from the sources beside it)
#   --uninstall         stop and remove what an install put here (the agent stays registered on
#                       the server: `vmo agents rm NAME` revokes it)
#
# Before anything is enabled it checks: Node ≥ 20; the agent's sha256 (against the one written
# into the script the server served, and the download's X-Vmo-Agent-Sha256); the token, with the
# server (GET /v1/agent/whoami). The token is kept in a file of root's (mode 0600, never readable
# by others, not even briefly); jobs run as --run-as, never as root nor as a user that can read it.
set -eu

# A copy served by GET /v1/agent/install.sh has its settings here: served=yes, the sha256 of the
# agent it serves, and served_unit() printing the systemd unit (there is no directory beside it).
served=''
served_sha256=''
#@VMO_SERVED_SETTINGS@

SYSTEMD_UNIT_FILE=/etc/systemd/system/vmo-agent.service
OLD_ENV_FILE=/etc/vmo-agent.env
JOB_HOME=/var/lib/vmo-job

say() { echo "install.sh: $*" >&2; }
die() { say "$*"; exit 1; }
usage() {
  if [ -n "$served" ]; then
    echo "Usage: curl -fsSL SERVER/v1/agent/install.sh | sudo sh -s -- --server SERVER --token-file FILE [options]"
  else
    sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'
  fi
}

here=''
[ -n "$served" ] || here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
server=''
token=${VMO_AGENT_TOKEN:-}
token_file=''
enrol_file=''
name=''
start=yes
service=yes
labels=''
bundle=''
run_as=''
prefix=''
action=install
insecure_http=no
need() { [ "$2" -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case $1 in
    --server) need "$1" $#; server=$2; shift 2 ;;
    --server=*) server=${1#*=}; shift ;;
    --token-file) need "$1" $#; token_file=$2; shift 2 ;;
    --token-file=*) token_file=${1#*=}; shift ;;
    --token|--token=*) die "--token would put the token on the command line, where every user of this machine can read it (ps): put it in a file (mode 0600) and pass --token-file FILE" ;;
    --enrol-file) need "$1" $#; enrol_file=$2; shift 2 ;;
    --enrol-file=*) enrol_file=${1#*=}; shift ;;
    --name) need "$1" $#; name=$2; shift 2 ;;
    --name=*) name=${1#*=}; shift ;;
    --labels) need "$1" $#; labels=$2; shift 2 ;;
    --labels=*) labels=${1#*=}; shift ;;
    --run-as) need "$1" $#; run_as=$2; shift 2 ;;
    --run-as=*) run_as=${1#*=}; shift ;;
    --prefix) need "$1" $#; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --bundle) need "$1" $#; bundle=$2; shift 2 ;;
    --bundle=*) bundle=${1#*=}; shift ;;
    --no-service) service=no; shift ;;
    --no-start) start=no; shift ;;
    --insecure-http) insecure_http=yes; shift ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

# Where everything goes. Paths end up in the unit and in a launcher script, unquoted by systemd:
# a prefix with spaces or quotes is refused rather than half-working.
if [ -n "$prefix" ]; then
  case $prefix in /*) ;; *) die "--prefix must be an absolute path (got $prefix)" ;; esac
  case $prefix in *[!A-Za-z0-9._/+-]*) die "--prefix may hold only letters, digits and . _ / + - (got $prefix)" ;; esac
  prefix=${prefix%/}
  APP_DIR=$prefix
  CONF_DIR=$prefix/etc
  STATE_DIR=$prefix/state
else
  APP_DIR=/opt/vmo-agent
  CONF_DIR=/etc/vmo-agent
  STATE_DIR=/var/lib/vmo-agent
fi
ENV_FILE=$CONF_DIR/agent.env
TOKEN_FILE=$CONF_DIR/token
ENROL_FILE=$CONF_DIR/enrol-token
MANIFEST=$CONF_DIR/installed
LAUNCHER=$APP_DIR/vmo-agent
is_root() { [ "$(id -u)" -eq 0 ]; }
# systemd is the init of this machine (sd_booted(3)); a systemctl binary alone proves nothing (containers).
systemd_runs() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

uninstall() {
  # Only what an install writes: the unit, the agent, its settings and token, its state, and the
  # job user if the install created it (its manifest says so).
  created_user=''
  if [ -f "$MANIFEST" ]; then created_user=$(sed -n 's/^created_user=//p' "$MANIFEST"); fi
  if [ -f "$SYSTEMD_UNIT_FILE" ] && grep -q "$APP_DIR/vmo-agent.mjs" "$SYSTEMD_UNIT_FILE"; then
    is_root || die "run as root (sudo): it removes $SYSTEMD_UNIT_FILE"
    if command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now vmo-agent.service >/dev/null 2>&1 || say "warning: systemctl disable --now vmo-agent.service failed (is systemd running?)"
    fi
    rm -f "$SYSTEMD_UNIT_FILE"
    if command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload || true; fi
  elif [ -f "$SYSTEMD_UNIT_FILE" ]; then
    say "leaving $SYSTEMD_UNIT_FILE: it runs an agent from elsewhere (not $APP_DIR)"
  fi
  rm -f "$APP_DIR/vmo-agent.mjs" "$LAUNCHER" "$ENV_FILE" "$TOKEN_FILE" "$ENROL_FILE" "$MANIFEST" "$STATE_DIR/agent.token" "$STATE_DIR/enrol.nonce"
  [ -n "$prefix" ] || rm -f "$OLD_ENV_FILE"
  for dir in "$STATE_DIR" "$CONF_DIR" "$APP_DIR"; do
    if [ -d "$dir" ]; then rmdir "$dir" 2>/dev/null || say "leaving $dir: it holds files the install did not put there"; fi
  done
  if [ -n "$created_user" ] && id "$created_user" >/dev/null 2>&1; then
    userdel --remove "$created_user" 2>/dev/null || userdel "$created_user" || say "warning: could not remove the user $created_user"
  fi
  echo "vmo-agent uninstalled from $APP_DIR. It is still registered on the server: revoke it there (vmo agents rm NAME)."
}

if [ "$action" = uninstall ]; then
  uninstall
  exit 0
fi

# ---- Checks: nothing is written before all of them pass. ----
[ -n "$server" ] || die "--server is required (e.g. https://vmo.example.com)"
case $server in http://*|https://*) ;; *) die "--server must start with http:// or https://" ;; esac
server=${server%/}
case $server in *[[:space:]\'\"\\]*) die "--server must not contain spaces, quotes or backslashes" ;; esac
# Whether an http:// URL names this machine: its host, after the scheme and any user@, before the
# path, query or fragment and the :port.
is_loopback() {
  h=${1#http://}; h=${h%%[/?#]*}; h=${h##*@}
  case $h in
    \[*) h=${h#\[}; h=${h%%\]*} ;;
    *) h=${h%:*} ;;
  esac
  h=$(printf '%s' "$h" | tr 'A-Z' 'a-z')
  case $h in
    localhost|localhost.|::1|0:0:0:0:0:0:0:1) return 0 ;;
    127.*.*.*) case $h in *[!0-9.]*|*.*.*.*.*) return 1 ;; *) return 0 ;; esac ;;
  esac
  return 1
}
# LOUD: over plain http the token goes to /v1/agent/whoami (and the agent's connection) in
# cleartext, and the agent we run is checked against a sha256 that came over the same
# unauthenticated connection: anyone on the path could read the token or swap the code.
case $server in
  http://*)
    if ! is_loopback "$server" && [ "$insecure_http" = no ]; then
      die "refusing --server $server: over plain http the agent token would cross the network in cleartext and the agent's code (and its sha256) could be swapped on the way; use https://, or pass --insecure-http if this network is trusted"
    fi ;;
esac
case $labels in *[\'\"\\]*) die "--labels must not contain quotes or backslashes" ;; esac
enrol_token=''
if [ -n "$enrol_file" ]; then
  [ -z "$token_file" ] && [ -z "$token" ] || die "--enrol-file and an agent token are both given: the agent enrols for its own token, give one or the other"
  [ -r "$enrol_file" ] || die "--enrol-file: cannot read $enrol_file"
  enrol_token=$(head -n 1 -- "$enrol_file" | tr -d '\r')
  case $enrol_token in vmo_enr_*) ;; *) die "--enrol-file must hold an enrolment token (vmo_enr_…, from POST /v1/enrolment-tokens)" ;; esac
else
  if [ -n "$token_file" ]; then
    [ -r "$token_file" ] || die "--token-file: cannot read $token_file"
    token=$(head -n 1 -- "$token_file" | tr -d '\r')
  fi
  [ -n "$token" ] || die "a token is required: --token-file FILE (or VMO_AGENT_TOKEN), or --enrol-file FILE to enrol"
  case $token in vmo_agt_*) ;; *) die "the token must be an agent token (vmo_agt_…)" ;; esac
fi
case $name in *[!A-Za-z0-9._-]*) die "--name may hold only letters, digits and . _ - (got $name)" ;; esac

if [ "$service" = yes ]; then
  is_root || die "run as root (sudo): it installs a systemd service (or pass --no-service and --prefix DIR)"
  systemd_runs || die "systemd is not running on this machine: pass --no-service (and start the agent with $LAUNCHER, or your own supervisor)"
elif [ -z "$prefix" ]; then
  is_root || die "run as root (sudo) to install into /opt and /etc, or give --prefix DIR"
fi
if [ -z "$run_as" ] && [ "$service" = yes ]; then run_as=vmo-job; fi
if [ -n "$run_as" ]; then
  case $run_as in root|0) die "--run-as root would let every job read the agent's token; name an unprivileged user" ;; esac
  case $run_as in *[!A-Za-z0-9._-]*) die "--run-as must be a user name (got $run_as)" ;; esac
  is_root || die "--run-as needs root: the agent switches to $run_as for each job"
  command -v setpriv >/dev/null 2>&1 || die "setpriv not found: install util-linux (the agent uses it to run jobs as $run_as)"
  if ! id "$run_as" >/dev/null 2>&1; then
    [ "$run_as" = vmo-job ] || die "--run-as: no user $run_as on this machine (create it first)"
    command -v useradd >/dev/null 2>&1 || die "useradd not found: create the user vmo-job yourself, or pass --run-as USER"
  fi
fi

node=$(command -v node) || die "node not found: install Node.js 20 or newer"
"$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "Node.js 20 or newer is needed, found $("$node" --version)"
case $node in *[!A-Za-z0-9._/+-]*) die "the path of node ($node) has characters a systemd unit would misread" ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/vmo-agent-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

sha256_of() { "$node" -e 'const h=require("crypto").createHash("sha256");h.update(require("fs").readFileSync(process.argv[1]));console.log(h.digest("hex"))' "$1"; }

# The agent: --bundle; or, for this script in the repository, a vmo-agent.mjs copied beside it, or
# one built now from the sources beside it (never a dist/ of some earlier build: it could be stale);
# or downloaded from the server. It says which.
if [ -z "$bundle" ] && [ -z "$served" ] && [ -f "$here/vmo-agent.mjs" ]; then bundle=$here/vmo-agent.mjs; fi
if [ -n "$bundle" ]; then
  [ -f "$bundle" ] || die "--bundle: no file $bundle"
  cp "$bundle" "$work/vmo-agent.mjs"
  say "installing the agent $bundle (sha256 $(sha256_of "$work/vmo-agent.mjs"))"
elif [ -z "$served" ] && [ -f "$here/../build.mjs" ]; then
  src=$(CDPATH='' cd -- "$here/.." && pwd)
  "$node" "$src/build.mjs" "$work/vmo-agent.mjs" >/dev/null ||
    die "could not build the agent from the sources in $src (run npm ci in the repository first), or pass --bundle FILE, or install from the server: curl -fsSL $server/v1/agent/install.sh | sh -s -- …"
  say "installing the agent built now from $src (sha256 $(sha256_of "$work/vmo-agent.mjs"))"
else
  command -v curl >/dev/null 2>&1 || die "curl not found: it downloads the agent from $server"
  curl -fsS --retry 3 -D "$work/headers" -o "$work/vmo-agent.mjs" "$server/v1/agent/download" ||
    die "could not download the agent from $server/v1/agent/download"
  got=$(sha256_of "$work/vmo-agent.mjs")
  header=$(tr -d '\r' <"$work/headers" | sed -n 's/^[Xx]-[Vv]mo-[Aa]gent-[Ss]ha256: *//p' | tail -n 1)
  [ -n "$header" ] || die "$server/v1/agent/download answered without X-Vmo-Agent-Sha256: is --server a vmo control plane?"
  [ "$got" = "$header" ] || die "the downloaded agent's sha256 is $got, the server announced $header: download damaged, try again"
  if [ -n "$served_sha256" ] && [ "$got" != "$served_sha256" ]; then
    die "the downloaded agent's sha256 is $got, this script expects $served_sha256 (the server was upgraded in between? fetch install.sh again)"
  fi
  say "installing the agent from $server/v1/agent/download (sha256 $got)"
fi
"$node" "$work/vmo-agent.mjs" --help >/dev/null 2>&1 || die "the agent does not run with $node ($("$node" --version))"

# The unit: the served copy carries it; the repository's lies beside this script.
if [ "$service" = yes ]; then
  if [ -n "$served" ]; then served_unit >"$work/unit"
  else
    [ -f "$here/vmo-agent.service" ] || die "vmo-agent.service not found beside install.sh"
    cp "$here/vmo-agent.service" "$work/unit"
  fi
fi

# The token, checked with the server before anything is enabled. LOUD: node reads it from the
# file: it is never an argument of curl or node, where ps would show it.
if [ -z "$enrol_token" ]; then
  (umask 077 && printf '%s\n' "$token" >"$work/token")
  identity=$(VMO_CHECK_SERVER=$server VMO_CHECK_TOKEN_FILE=$work/token "$node" -e '
    const token = require("fs").readFileSync(process.env.VMO_CHECK_TOKEN_FILE, "utf8").trim();
    fetch(process.env.VMO_CHECK_SERVER + "/v1/agent/whoami", { headers: { authorization: "Bearer " + token }, signal: AbortSignal.timeout(30000) })
      .then(async (res) => {
        const body = await res.json().catch(() => ({}));
        if (res.status === 200) { console.log(body.name + " " + body.id); return; }
        console.error(res.status === 401 ? "the server refused the token: it is unknown or revoked (create one with: vmo agents add NAME)" : "the server answered " + res.status + " " + (body.error ? body.error.code + ": " + body.error.message : ""));
        process.exit(1);
      })
      .catch((err) => { console.error("could not reach the server: " + (err.cause ? err.cause.code || err.cause.message : err.message)); process.exit(1); });
  ') || die "the token was not accepted by $server: nothing installed"
  agent_name=${identity% *}
  if [ -n "$name" ] && [ "$name" != "$agent_name" ]; then die "the token belongs to the agent $agent_name, not $name: nothing installed"; fi
  say "the server knows this token: agent $agent_name (${identity#* })"
fi

# ---- Install. ----
created_user=''
if [ -n "$run_as" ] && ! id "$run_as" >/dev/null 2>&1; then
  # The job user: no login, no sudo, a home of its own for the jobs' files.
  nologin=$(command -v nologin || echo /bin/false)
  useradd --system --user-group --create-home --home-dir "$JOB_HOME" --shell "$nologin" "$run_as"
  created_user=$run_as
fi
install -d -m 0755 "$APP_DIR"
install -m 0755 "$work/vmo-agent.mjs" "$APP_DIR/vmo-agent.mjs"
install -d -m 0700 "$CONF_DIR"

# Written under umask 077, then moved: the token is never readable by others, not even briefly.
if [ -n "$enrol_token" ]; then
  tmp=$(umask 077 && mktemp "$ENROL_FILE.XXXXXX")
  printf '%s\n' "$enrol_token" >"$tmp"
  mv -f "$tmp" "$ENROL_FILE"
  # The agent creates it 0700 and keeps its own token there after enrolling.
  install -d -m 0700 "$STATE_DIR"
else
  mv -f "$work/token" "$TOKEN_FILE"
fi

tmp=$(umask 077 && mktemp "$ENV_FILE.XXXXXX")
{
  echo "VMO_SERVER=$server"
  [ -z "$run_as" ] || echo "VMO_RUN_AS=$run_as"
  if [ -n "$enrol_token" ]; then
    echo "VMO_AGENT_STATE_DIR=$STATE_DIR"
    echo "VMO_AGENT_ENROL_TOKEN_FILE=$ENROL_FILE"
    [ -z "$name" ] || echo "VMO_AGENT_NAME=$name"
  else
    echo "VMO_AGENT_TOKEN_FILE=$TOKEN_FILE"
  fi
  [ -z "$labels" ] || echo "VMO_AGENT_LABELS=$labels"
} >"$tmp"
mv -f "$tmp" "$ENV_FILE"
tmp=$(umask 077 && mktemp "$MANIFEST.XXXXXX")
{
  echo "# what install.sh put here, for --uninstall"
  echo "app_dir=$APP_DIR"
  echo "created_user=$created_user"
} >"$tmp"
mv -f "$tmp" "$MANIFEST"

# The launcher: the agent with these settings, what the unit does with EnvironmentFile=.
tmp=$(mktemp "$LAUNCHER.XXXXXX")
cat >"$tmp" <<EOF
#!/bin/sh
# Starts vmo-agent with the settings install.sh wrote in $ENV_FILE (as the systemd unit does).
set -eu
while IFS= read -r line; do
  case \$line in ''|'#'*) ;; *) export "\$line" ;; esac
done <'$ENV_FILE'
exec '$node' '$APP_DIR/vmo-agent.mjs' "\$@"
EOF
chmod 0755 "$tmp"
mv -f "$tmp" "$LAUNCHER"

if [ "$service" = no ]; then
  echo "vmo-agent installed in $APP_DIR (server $server${run_as:+, jobs run as $run_as}), no service. Start it with: $LAUNCHER"
  exit 0
fi

# An earlier install kept the token in this environment file: it is not used any more.
[ -n "$prefix" ] || rm -f "$OLD_ENV_FILE"
sed -e "s|^ExecStart=/usr/bin/env node /opt/vmo-agent/vmo-agent.mjs|ExecStart=$node $APP_DIR/vmo-agent.mjs|" \
  -e "s|^EnvironmentFile=/etc/vmo-agent/agent.env|EnvironmentFile=$ENV_FILE|" "$work/unit" >"$work/unit.out"
grep -q "^ExecStart=$node $APP_DIR/vmo-agent.mjs\$" "$work/unit.out" || die "the systemd unit has no ExecStart line to rewrite"
install -m 0644 "$work/unit.out" "$SYSTEMD_UNIT_FILE"

systemctl daemon-reload
systemctl enable vmo-agent.service >/dev/null
if [ "$start" = no ]; then
  echo "vmo-agent installed and enabled, not started (server $server, jobs run as $run_as): it starts at the next boot"
  exit 0
fi
systemctl restart vmo-agent.service
echo "vmo-agent installed and started (server $server, jobs run as $run_as). Logs: journalctl -u vmo-agent -f"
