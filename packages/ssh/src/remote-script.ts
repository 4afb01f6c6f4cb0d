import { shellQuote } from '@vmo/shared/process';

/**
 * How a job's command is started on the host.
 *
 * The exec request carries only LAUNCHER, a constant that any login shell (sh, bash, zsh, fish,
 * csh) parses the same way. The real script travels on the session's stdin and is read to EOF
 * before anything runs: no size limit from the exec request, no quoting through an unknown login
 * shell, and the command then sees an exhausted stdin (like </dev/null for local jobs).
 *
 * The script runs in the process that sshd started for the session. OpenSSH's sshd calls setsid()
 * for every session, so that process leads its own process group, and the `exec`s below keep its
 * pid: the group id is `$$`, and killing the group reaches every process of the job. It reports
 * the group on stderr as a marker line before the command starts (see StderrPreamble).
 */
export const LAUNCHER = `exec /bin/sh -c 'vmo_script=$(cat) && eval "$vmo_script"'`;

export interface RemoteScriptSpec {
  /** Random per run: marker lines carry it, so no output of the command can pass for one. */
  nonce: string;
  jobId: string;
  command: string;
  env: Record<string, string>;
  cwd: string | null;
}

export function remoteScript(spec: RemoteScriptSpec): string {
  const n = shellQuote(spec.nonce);
  const exports = Object.entries({ ...spec.env, VMO_JOB_ID: spec.jobId }).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
  // A relative cwd is relative to the login directory, as with `ssh host 'cd dir'`.
  const dir = spec.cwd && spec.cwd.startsWith('-') ? `./${spec.cwd}` : spec.cwd;
  return [
    // Not a group leader (a server that does not setsid): become one if setsid(1) exists; setsid
    // does not fork for a non-leader, so $$ stays. VMO_SETSID guards against a second round.
    // The group id from /proc without a process (issue 16: ps and tr were two of the five small
    // processes each job started): field 5 of /proc/PID/stat, read by the shell's own `read` and
    // split by `set --` (the comm field is the shell's name, no spaces). Elsewhere, ps.
    `vmo_pg=`,
    `if [ -r /proc/$$/stat ] && IFS= read -r vmo_stat < /proc/$$/stat; then set -- $vmo_stat; vmo_pg=$5; set --; unset vmo_stat; fi`,
    `[ -n "$vmo_pg" ] || vmo_pg=$( (ps -o pgid= -p $$) 2>/dev/null | tr -d ' ')`,
    `if [ -n "$vmo_pg" ] && [ "$vmo_pg" != "$$" ] && [ -z "$VMO_SETSID" ] && command -v setsid >/dev/null 2>&1; then`,
    // The script goes on in the environment, not in argv: argv is world-readable (ps, /proc/*/cmdline)
    // on the host, and the script holds the job's env, secretEnv included.
    `  export vmo_script; VMO_SETSID=1 exec setsid /bin/sh -c 'eval "$vmo_script"'`,
    `fi`,
    `if [ -z "$vmo_pg" ] || [ "$vmo_pg" = "$$" ]; then printf '%s pgid %s\\n' ${n} "$$" >&2; else printf '%s pid %s\\n' ${n} "$$" >&2; fi`,
    `unset vmo_pg vmo_script VMO_SETSID`,
    ...exports,
    ...(dir ? [`cd ${shellQuote(dir)} 2>/dev/null || { printf '%s cwd-failed\\n' ${n} >&2; exit 127; }`] : []),
    `printf '%s run\\n' ${n} >&2`,
    `exec /bin/sh -c ${shellQuote(spec.command)}`,
    '',
  ].join('\n');
}
