export * from './host-input.ts';
export * from './host-view.ts';
export * from './host-service.ts';
export * from './resolve-host.ts';
export * from './compute-ssh-config.ts';
export * from './import-ssh-config.ts';
export * from './pin-host-key.ts';
export * from './row-to-host.ts';
export { SSH_CONFIG_LIMITS } from './ssh-config/work-meter.ts';
