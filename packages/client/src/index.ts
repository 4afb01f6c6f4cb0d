export { VmoClient, createClient, type VmoClientOptions, type RawResponse, type JobListQuery, type RunListQuery, type RunJobsQuery } from './client.ts';
export { VmoApiError, VmoResponseError, VmoStreamClosedError } from './errors.ts';
export { follow, decodeBase64, type FollowOptions, type OutputChunk, type Reconnect, type StreamEnd } from './follow.ts';
export { streamOnce, type BrowserWebSocketClass, type StreamClose, type StreamOnceOptions, type StreamSocket, type StreamTarget } from './stream.ts';
export { routeUrl, type RouteOutput, type RouteRequest, type RouteResult } from './http.ts';
export type { Agent, Host, Job, JobStatus, LogChunk, Run, RunChild, RunListItem, RunStatus, RunSummary, StreamMessage } from '@vmo/shared/api';
export { followRun, streamRunOnce, type FollowRunOptions, type RunOutputChunk, type RunReconnect, type RunStreamEnd, type RunStreamOnceOptions, type RunStreamProgress, type RunStreamStatus } from './follow-run.ts';
export { events, type ChangeTopic, type EventsDown, type EventsOptions } from './events.ts';
