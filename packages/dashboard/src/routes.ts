import type { Component } from 'svelte';
import Agents from './pages/Agents.svelte';
import AgentShell from './pages/AgentShell.svelte';
import Hosts from './pages/Hosts.svelte';
import HostShell from './pages/HostShell.svelte';
import Job from './pages/Job.svelte';
import Jobs from './pages/Jobs.svelte';
import NewJob from './pages/NewJob.svelte';
import NewRun from './pages/NewRun.svelte';
import Run from './pages/Run.svelte';
import Runs from './pages/Runs.svelte';
import Schedule from './pages/Schedule.svelte';
import Schedules from './pages/Schedules.svelte';
import Session from './pages/Session.svelte';
import Sessions from './pages/Sessions.svelte';
import NewSchedule from './pages/NewSchedule.svelte';
import WorkspaceShell from './pages/WorkspaceShell.svelte';

/**
 * Every page and its URL, in match order (`/jobs/new` before `/jobs/:id`). A page receives the
 * path's parameters as props; its filters live in the query (router.svelte.ts `setQuery`).
 */
export const ROUTES: readonly { pattern: string; page: Component<any>; title: string }[] = [
  { pattern: '/jobs', page: Jobs, title: 'Jobs' },
  { pattern: '/jobs/new', page: NewJob, title: 'New job' },
  { pattern: '/jobs/:id', page: Job, title: 'Job' },
  { pattern: '/runs', page: Runs, title: 'Runs' },
  { pattern: '/runs/new', page: NewRun, title: 'New run' },
  { pattern: '/runs/:id', page: Run, title: 'Run' },
  { pattern: '/schedules', page: Schedules, title: 'Schedules' },
  { pattern: '/schedules/new', page: NewSchedule, title: 'New schedule' },
  { pattern: '/schedules/:id', page: Schedule, title: 'Schedule' },
  { pattern: '/agents', page: Agents, title: 'Agents' },
  { pattern: '/agents/:name/shell', page: AgentShell, title: 'Shell' },
  { pattern: '/sessions', page: Sessions, title: 'Sessions' },
  { pattern: '/sessions/:id', page: Session, title: 'Session' },
  { pattern: '/hosts', page: Hosts, title: 'Hosts' },
  { pattern: '/hosts/:ref/shell', page: HostShell, title: 'Shell' },
  // No workspace pages yet: the CLI and API list them; this is where their shell opens.
  { pattern: '/workspaces/:name/shell', page: WorkspaceShell, title: 'Shell' },
];

/** The navigation bar: section and the path prefix that marks it current. */
export const SECTIONS = [
  { href: '/jobs', label: 'Jobs' },
  { href: '/runs', label: 'Runs' },
  { href: '/schedules', label: 'Schedules' },
  { href: '/agents', label: 'Agents' },
  { href: '/hosts', label: 'Hosts' },
  { href: '/sessions', label: 'Sessions' },
] as const;
